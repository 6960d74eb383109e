"""Pure domain logic: vocabulary, KPI formulas, histograms, thresholds. No I/O."""
