"""The two-page Aurora handbook that the ask and OpenAI-endpoint tests ask about, the
question they ask, and a page that only some keys may see."""

QUESTION = "When was the Aurora battery designed?"
AURORA = [
    "The Aurora battery was designed in 1987 by the engineer Ingrid Halvorsen. "
    "The Aurora battery stores energy in sodium cells. Each cell weighs about two kilograms.",
    "The Aurora battery pack is assembled in the coastal town of Bodo. "
    "The factory employs three hundred people and runs two shifts a day.",
]
SECRET = "The vault code of the archive is changed on the first Monday of every month."
