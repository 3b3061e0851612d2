# Side-by-side timing of metafor for benchmarks/bench_meta.py (called by it; not a test).
#
# Usage: Rscript benchmarks/bench_meta.R <jobs.json> <out.json>
#
# jobs.json is a list of jobs {name, data (CSV with yi, vi and, for meta-regressions, x), method, test,
# mods (TRUE/FALSE), reps, inner, confint (TRUE/FALSE)}. After one warm-up fit (loading metafor and its
# first-call costs are not counted) each job times rma() <reps> times with proc.time(), each time as the
# mean of <inner> fits in a row (proc.time() ticks in milliseconds); when confint is TRUE each repetition
# also times confint() on that fit (the Q-profile interval of tau^2,
# which lacrima.meta always computes). PM and confint use control = list(tol = 1e-12), the precision
# lacrima solves to (metafor's default uniroot tolerance is about 1e-4).
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
jobs <- fromJSON(args[1], simplifyDataFrame = FALSE)
tight <- list(tol = 1e-12)
elapsed <- function() proc.time()[["elapsed"]]

warm <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
invisible(confint(rma(yi, vi, data = warm)))

fit_once <- function(d, job) {
  ctrl <- if (job$method == "PM") tight else list()
  if (isTRUE(job$mods)) {
    rma(yi, vi, mods = ~ x, data = d, method = job$method, test = job$test, control = ctrl)
  } else {
    rma(yi, vi, data = d, method = job$method, test = job$test, control = ctrl)
  }
}

cache <- list()
out <- list(r_version = R.version.string, metafor = as.character(packageVersion("metafor")), jobs = list())
for (job in jobs) {
  if (is.null(cache[[job$data]])) cache[[job$data]] <- read.csv(job$data)
  d <- cache[[job$data]]
  t_rma <- numeric(job$reps)
  t_ci <- rep(NA_real_, job$reps)
  ci <- NULL
  for (i in seq_len(job$reps)) {
    t0 <- elapsed()
    for (j in seq_len(job$inner)) fit <- fit_once(d, job)
    t_rma[i] <- (elapsed() - t0) / job$inner
    if (isTRUE(job$confint)) {
      t0 <- elapsed()
      for (j in seq_len(job$inner)) ci <- confint(fit, control = tight)$random
      t_ci[i] <- (elapsed() - t0) / job$inner
    }
  }
  rec <- list(
    name = job$name, seconds_rma = t_rma, seconds_confint = t_ci,
    median_seconds_rma = median(t_rma),
    median_seconds_rma_confint = if (isTRUE(job$confint)) median(t_rma + t_ci) else NA,
    b = as.vector(fit$beta), se = as.vector(fit$se), tau2 = fit$tau2, I2 = fit$I2, QE = fit$QE,
    QM = fit$QM
  )
  if (!is.null(ci)) rec$tau2_ci <- as.vector(ci["tau^2", c("ci.lb", "ci.ub")])
  out$jobs[[job$name]] <- rec
}
write_json(out, args[2], digits = NA, auto_unbox = TRUE, pretty = TRUE)
