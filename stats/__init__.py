"""The statistics rollup: what the authority's statistics count, kept per day of filing and
marketplace so a year over a million cases reads a few thousand rows, not a million.

`stats.tally` defines the counts once, as grouped queries over cases; `stats.rollup` stores
them per closed day and keeps them true (events, id watermarks, the periodic pass);
`web.stats` reads the rollup for the days it covers and runs the same queries live for the
rest (today, days touched since the last pass)."""
