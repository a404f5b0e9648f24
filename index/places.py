"""Words that stand for a country in news copy: demonyms ("Russian"), capitals and seats of power ("Moscow", "the
Kremlin"), so "what did Russia say?" finds what Putin, Moscow or Russia's Foreign Ministry said."""

from __future__ import annotations

import re

_COUNTRIES: dict[str, tuple[str, ...]] = {
    "Afghanistan": ("afghan", "afghanistan's", "kabul"),
    "Algeria": ("algerian", "algiers"),
    "Argentina": ("argentine", "argentinian", "buenos aires"),
    "Armenia": ("armenian", "yerevan"),
    "Australia": ("australian", "canberra"),
    "Austria": ("austrian", "vienna"),
    "Azerbaijan": ("azerbaijani", "azeri", "baku"),
    "Bahrain": ("bahraini", "manama"),
    "Bangladesh": ("bangladeshi", "dhaka"),
    "Belarus": ("belarusian", "minsk"),
    "Belgium": ("belgian", "brussels"),
    "Brazil": ("brazilian", "brasilia", "brasília"),
    "Canada": ("canadian", "ottawa"),
    "Chile": ("chilean", "santiago"),
    "China": ("chinese", "beijing", "prc", "people's republic of china"),
    "Colombia": ("colombian", "bogota", "bogotá"),
    "Cuba": ("cuban", "havana"),
    "Denmark": ("danish", "copenhagen"),
    "Egypt": ("egyptian", "cairo"),
    "Ethiopia": ("ethiopian", "addis ababa"),
    "Finland": ("finnish", "helsinki"),
    "France": ("french", "paris", "elysee", "élysée", "the elysee", "the élysée"),
    "Georgia": ("georgian", "tbilisi"),
    "Germany": ("german", "berlin"),
    "Greece": ("greek", "athens"),
    "Hungary": ("hungarian", "budapest"),
    "India": ("indian", "new delhi", "delhi"),
    "Indonesia": ("indonesian", "jakarta"),
    "Iran": ("iranian", "tehran", "islamic republic", "islamic republic of iran"),
    "Iraq": ("iraqi", "baghdad"),
    "Ireland": ("irish", "dublin"),
    "Israel": ("israeli", "jerusalem", "tel aviv"),
    "Italy": ("italian", "rome"),
    "Japan": ("japanese", "tokyo"),
    "Jordan": ("jordanian", "amman"),
    "Kazakhstan": ("kazakh", "astana"),
    "Kenya": ("kenyan", "nairobi"),
    "Kuwait": ("kuwaiti", "kuwait city"),
    "Lebanon": ("lebanese", "beirut"),
    "Libya": ("libyan", "tripoli"),
    "Mexico": ("mexican", "mexico city"),
    "Morocco": ("moroccan", "rabat"),
    "Netherlands": ("dutch", "the hague", "amsterdam", "holland"),
    "New Zealand": ("new zealander", "wellington"),
    "Nigeria": ("nigerian", "abuja"),
    "North Korea": ("north korean", "pyongyang", "dprk"),
    "Norway": ("norwegian", "oslo"),
    "Oman": ("omani", "muscat"),
    "Pakistan": ("pakistani", "islamabad"),
    "Palestine": ("palestinian", "ramallah", "palestinian authority"),
    "Philippines": ("philippine", "filipino", "manila"),
    "Poland": ("polish", "warsaw"),
    "Portugal": ("portuguese", "lisbon"),
    "Qatar": ("qatari", "doha"),
    "Romania": ("romanian", "bucharest"),
    "Russia": ("russian", "moscow", "kremlin", "the kremlin", "russian federation"),
    "Saudi Arabia": ("saudi", "riyadh", "saudis"),
    "Serbia": ("serbian", "belgrade"),
    "South Africa": ("south african", "pretoria", "johannesburg"),
    "South Korea": ("south korean", "seoul"),
    "Spain": ("spanish", "madrid"),
    "Sudan": ("sudanese", "khartoum"),
    "Sweden": ("swedish", "stockholm"),
    "Switzerland": ("swiss", "bern", "geneva"),
    "Syria": ("syrian", "damascus"),
    "Taiwan": ("taiwanese", "taipei"),
    "Thailand": ("thai", "bangkok"),
    "Turkey": ("turkish", "ankara", "türkiye", "turkiye"),
    "Ukraine": ("ukrainian", "kyiv", "kiev"),
    "United Arab Emirates": ("emirati", "uae", "abu dhabi", "dubai"),
    "United Kingdom": ("british", "uk", "u.k.", "britain", "great britain", "london", "downing street", "england"),
    "United States": ("american", "u.s.", "usa", "u.s.a.", "america", "washington", "white house", "the white house", "pentagon", "the pentagon", "state department", "the state department"),
    "Venezuela": ("venezuelan", "caracas"),
    "Vietnam": ("vietnamese", "hanoi"),
    "Yemen": ("yemeni", "sanaa", "sana'a"),
}
_ALIASES = {alias: country for country, aliases in _COUNTRIES.items() for alias in (country.lower(), *aliases)}
_POSSESSIVE = re.compile(r"(?:'s|’s|')$")


def country_of(words: str) -> str | None:
    """The country a word or phrase stands for ("Russian", "Moscow", "the Kremlin", "Russia's"), or None."""
    lowered = _POSSESSIVE.sub("", " ".join(words.lower().split()).strip(" .,;:"))
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    without_article = lowered.removeprefix("the ")
    return _ALIASES.get(without_article)
