"""The giveaways' workflows: `drawing` (create, import, commit, cancel), `execution` (draw,
sign, reroll), `blacklist`, `reads` (what the API and pages show)."""
