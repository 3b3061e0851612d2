# Side-by-side timing of lavaan for benchmarks/bench_invariance.py (called by it; not a test).
#
# Usage:
#   Rscript benchmarks/bench_invariance.R bench <out.json> <reps> <name>=<data.csv> [<name>=<data.csv> ...]
#   Rscript benchmarks/bench_invariance.R once <data.csv>
#
# "bench": after one warm-up fit per data set (loading lavaan and its first-call costs are not counted),
# times each invariance step (cfa with group.equal) <reps> times with proc.time() and records the median,
# the four steps in a row as one chain, fit measures and parameter estimates. Each data set has the
# indicators x1..x9 and a grouping column "group".
# "once": one cold run of the four steps (used by the Python script to time the whole process, R start-up
# and library(lavaan) included); prints the seconds spent loading libraries and fitting as JSON.
t_start <- proc.time()[["elapsed"]]
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})
t_loaded <- proc.time()[["elapsed"]]
model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
steps <- list(
  configural = "",
  metric = "loadings",
  scalar = c("loadings", "intercepts"),
  strict = c("loadings", "intercepts", "residuals")
)
args <- commandArgs(trailingOnly = TRUE)

fit_step <- function(data, equal) cfa(model, data = data, group = "group", group.equal = equal)

if (args[1] == "once") {
  data <- read.csv(args[2])
  for (s in names(steps)) invisible(fit_step(data, steps[[s]]))
  cat(toJSON(list(imports = t_loaded - t_start, read_and_fit = proc.time()[["elapsed"]] - t_loaded),
             auto_unbox = TRUE, digits = NA), "\n")
  quit(save = "no", status = 0)
}

out_path <- args[2]
reps <- as.integer(args[3])
elapsed <- function() proc.time()[["elapsed"]]
out <- list(r_version = R.version.string, lavaan = as.character(packageVersion("lavaan")), data = list())
for (spec in args[-(1:3)]) {
  parts <- strsplit(spec, "=", fixed = TRUE)[[1]]
  name <- parts[1]
  data <- read.csv(parts[2])
  invisible(fit_step(data, steps$configural))
  res <- list()
  for (s in names(steps)) {
    times <- numeric(reps)
    for (i in seq_len(reps)) {
      t0 <- elapsed()
      fit <- fit_step(data, steps[[s]])
      times[i] <- elapsed() - t0
    }
    fm <- fitMeasures(fit, c("chisq", "df", "cfi", "tli", "rmsea", "srmr", "aic", "bic"))
    pe <- parameterEstimates(fit)
    labels <- lavInspect(fit, "group.label")
    res[[s]] <- list(
      seconds = times, median_seconds = median(times),
      iterations = lavInspect(fit, "iterations"), converged = lavInspect(fit, "converged"),
      measures = as.list(fm),
      estimates = list(group = labels[pe$group], lhs = pe$lhs, op = pe$op, rhs = pe$rhs, est = pe$est,
                       se = pe$se)
    )
  }
  chain <- numeric(reps)
  for (i in seq_len(reps)) {
    t0 <- elapsed()
    for (s in names(steps)) invisible(fit_step(data, steps[[s]]))
    chain[i] <- elapsed() - t0
  }
  out$data[[name]] <- list(steps = res, chain_seconds = chain, chain_median_seconds = median(chain))
}
write_json(out, out_path, digits = NA, auto_unbox = TRUE, pretty = TRUE)
