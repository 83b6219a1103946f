"""Every sentence the photo feature shows, in one place (for translation). HTML where noted."""

TEXTS = {
    "match": "That looks like <b>{title}</b>.",  # HTML
    "unsure": "I'm not sure which movie this is. Is it one of these?",
    "unknown": "I don't know this movie.",
    "lookalikes_button": "Posters that look like this",
    "lookalikes_caption": "<b>Posters that look like your photo</b>",  # HTML
    "still_looking": "I'm still looking at your last photo. One moment, please.",
    "too_big": "That picture is too large for me (at most {mb} MB). Please send a smaller one.",
    "not_image": "I can only read pictures (JPEG, PNG, WebP…). That file isn't one I can open.",
    "try_again": "Sorry, I couldn't look at that photo just now. Please try again.",
    "unavailable": "I can't identify posters from photos right now. Send me a title instead.",
    "picked": "You picked <b>{title}</b>.",  # HTML
    "out_of_date": "That button is out of date.",
}
