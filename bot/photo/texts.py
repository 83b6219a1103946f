"""Every sentence the photo feature shows, in one place: English message ids marked with
``N_()`` and translated where they are sent (``_(MATCH, title=...)``). HTML where noted."""

from ..i18n import N_

MATCH = N_("That looks like <b>{title}</b>.")  # HTML
UNSURE = N_("I'm not sure which movie this is. Is it one of these?")
UNKNOWN = N_("I don't know this movie.")
LOOKALIKES_BUTTON = N_("Posters that look like this")
LOOKALIKES_CAPTION = N_("<b>Posters that look like your photo</b>")  # HTML
STILL_LOOKING = N_("I'm still looking at your last photo. One moment, please.")
TOO_BIG = N_("That picture is too large for me (at most {mb} MB). Please send a smaller one.")
NOT_IMAGE = N_("I can only read pictures (JPEG, PNG, WebP…). That file isn't one I can open.")
TRY_AGAIN = N_("Sorry, I couldn't look at that photo just now. Please try again.")
UNAVAILABLE = N_("I can't identify posters from photos right now. Send me a title instead.")
PICKED = N_("You picked <b>{title}</b>.")  # HTML
