# Side-by-side timing of lme4 for benchmarks/bench_mixed.py (called by it; not a test).
# Usage: Rscript benchmarks/bench_mixed.R <lmm.csv> <glmm.csv> <out.json> [<insteval.csv.gz>]
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
lmm_data <- read.csv(args[1])
glmm_data <- read.csv(args[2])

t0 <- proc.time()[["elapsed"]]
m <- lmer(alliance ~ session + cried + (1 + session | client) + (1 | therapist), data = lmm_data, REML = TRUE)
t_lmm <- proc.time()[["elapsed"]] - t0

t0 <- proc.time()[["elapsed"]]
g <- glmer(cried ~ session + anx + (1 | client), data = glmm_data, family = binomial, nAGQ = 1)
t_glmm <- proc.time()[["elapsed"]] - t0

# glmer's default PIRLS tolerance (tolPwrss = 1e-7) leaves its Laplace deviance slightly off with many
# observations per group; a tight tolerance gives the exact Laplace optimum to compare estimates with.
t0 <- proc.time()[["elapsed"]]
g_tight <- glmer(cried ~ session + anx + (1 | client), data = glmm_data, family = binomial, nAGQ = 1,
                 control = glmerControl(tolPwrss = 1e-12))
t_tight <- proc.time()[["elapsed"]] - t0

crossed <- NULL
if (length(args) >= 4) {
  ie <- read.csv(args[4])
  t0 <- proc.time()[["elapsed"]]
  m_cross <- lmer(y ~ service + (1 | s) + (1 | d) + (1 | dept), data = ie, REML = TRUE)
  t_cross <- proc.time()[["elapsed"]] - t0
}

record <- function(fit, seconds) {
  co <- summary(fit)$coefficients
  list(
    seconds = seconds, term = rownames(co), estimate = unname(co[, 1]), se = unname(co[, 2]),
    vcov = as.data.frame(VarCorr(fit))$vcov, loglik = as.numeric(logLik(fit)),
    messages = fit@optinfo$conv$lme4$messages
  )
}
out <- list(lmm = record(m, t_lmm), glmm = record(g, t_glmm), glmm_tight = record(g_tight, t_tight), r_version = R.version.string,
            lme4 = as.character(packageVersion("lme4")))
if (length(args) >= 4) out$crossed <- record(m_cross, t_cross)
write_json(out, args[3], digits = NA, auto_unbox = TRUE, pretty = TRUE)
