"""The interview domain: plan, cursor, scripted logic, turn text, lines, report, store, settings, models."""
