# Side-by-side timing of glmer for benchmarks/bench_glmm.py (called by it; not a test).
# Usage: Rscript benchmarks/bench_glmm.R <data.csv> <nagq> <out.json>
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
nagq <- as.integer(args[2])
f <- cried ~ session + anx + (1 | client)

timed <- function(expr) {
  t0 <- proc.time()[["elapsed"]]
  fit <- expr
  list(fit = fit, seconds = proc.time()[["elapsed"]] - t0)
}
record <- function(x) {
  fit <- x$fit
  co <- summary(fit)$coefficients
  list(
    seconds = x$seconds, term = rownames(co), estimate = unname(co[, 1]), se = unname(co[, 2]),
    vcov = as.data.frame(VarCorr(fit))$vcov, loglik = as.numeric(logLik(fit)),
    messages = fit@optinfo$conv$lme4$messages
  )
}
# glmer as users run it (default glmerControl: bobyqa then Nelder_Mead, tolPwrss = 1e-7) ...
laplace <- timed(glmer(f, data = d, family = binomial, nAGQ = 1))
# ... and with the tight control of tests/reference/glmer_engine.R, nearer the exact optimum.
tight_ctrl <- glmerControl(tolPwrss = 1e-12, optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
tight <- timed(glmer(f, data = d, family = binomial, nAGQ = 1, control = tight_ctrl))
agq <- timed(glmer(f, data = d, family = binomial, nAGQ = nagq))
out <- list(laplace = record(laplace), laplace_tight = record(tight), agq = record(agq), nagq = nagq,
            r_version = R.version.string, lme4 = as.character(packageVersion("lme4")))
# Other random structures (Laplace, default control), when asked for.
if (length(args) > 3 && args[4] == "general") {
  slope <- timed(glmer(cried ~ session + anx + (1 + session | client), data = d, family = binomial))
  two <- timed(glmer(cried ~ session + anx + (1 | client) + (1 | therapist), data = d, family = binomial))
  out$slope <- record(slope)
  out$two_terms <- record(two)
}
write_json(out, args[3], digits = NA, auto_unbox = TRUE, pretty = TRUE)
