# Reference values for lacrima.simulate.power_by_simulation (two-group comparison).
# Oracle: stats::power.t.test (R 4.2.2), two-sample, two-sided, equal groups, SD 1.
# lacrima's n is the total sample size, so R's per-group n is n / 2.
# Run from the repository root:  Rscript tests/reference/simulate_power.R
# Writes tests/reference/simulate_power.json.
suppressPackageStartupMessages(library(jsonlite))

n_total <- c(40, 100, 200, 300)
delta <- 0.35
alpha <- 0.05
power <- sapply(n_total, function(n) {
  power.t.test(n = n / 2, delta = delta, sd = 1, sig.level = alpha,
               type = "two.sample", alternative = "two.sided")$power
})

out <- list(
  call = "power.t.test(n = n_total / 2, delta = 0.35, sd = 1, sig.level = 0.05)",
  delta = delta,
  alpha = alpha,
  n_total = n_total,
  power = power
)
write_json(out, "tests/reference/simulate_power.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
