"""Pictures for people: contact sheets (:mod:`.contact_sheet`) and text on images (:mod:`.text`).

Kept free of imports so that :mod:`reelpick.posters` can use :mod:`.text` without loading the
contact sheet (which itself uses the poster store).
"""
