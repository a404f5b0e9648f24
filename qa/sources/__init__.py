"""Sources kept indexed: RSS/Atom feeds and watched folders, fetched politely, wire-story duplicates merged."""
