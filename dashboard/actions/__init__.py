"""State changes users trigger: authorise, change, audit — in one transaction."""
