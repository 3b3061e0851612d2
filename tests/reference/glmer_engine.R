# Golden values for lacrima's own GLMM engine (src/lacrima/longitudinal/_glmm.py), from glmer (lme4 1.1-31).
# Run from the repository root:  Rscript tests/reference/glmer_engine.R
# Writes tests/reference/glmer_engine.json and the data sets tests/reference/data/glmer_*.csv.
#
# Every fit uses a tight control so that glmer reaches the exact optimum of its deviance:
#   glmerControl(tolPwrss = 1e-14, optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
# (both stages, nAGQ = 0 then nAGQ = k, with bobyqa). The PIRLS tolerance matters: glmer stops PIRLS on a
# relative change of the penalised deviance, and with 1,000 groups even tolPwrss = 1e-12 (or 1e-13) leaves
# glmer's Laplace deviance 7e-5 above its converged value at the same (theta, beta); 1e-14 gives the
# converged value to 1e-10, and 1e-15 fails (step halving cannot reduce a deviance at rounding level). A
# case whose fit fails at 1e-14 is refitted at 1e-12 (recorded as tol_pwrss), and every case is then
# polished ("polished"): glmer's own stage-2 deviance function built with tolPwrss = 1e-14
# (update(fit, devFunOnly = TRUE)) minimised again from glmer's estimates by minqa::bobyqa (rhoend 1e-12),
# with vcov = the beta block of 2 H^-1, H = numDeriv::hessian of that function (lme4's use.hessian
# definition at the polished optimum). The engine is held to 1e-6 against these. Each case records
# max|gradient| of glmer's own deviance function at its optimum (numDeriv::grad) to show how stationary
# the reference is, and glmer's deviance function at two points (the optimum and a perturbed point), which
# checks the deviance itself independently of any optimiser.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
  library(numDeriv)
})

out_dir <- "tests/reference"
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)
tight <- function(tol) {
  glmerControl(tolPwrss = tol, optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
}

# ---- data ------------------------------------------------------------------------------------------------
# Sessions in clients in therapists: 1,000 clients x 20 sessions, a client intercept and session slope.
set.seed(20261202)
n_cl <- 1000; n_s <- 20; n_th <- 50
client <- rep(seq_len(n_cl), each = n_s)
therapist <- rep((seq_len(n_cl) - 1) %% n_th + 1, each = n_s)
session <- rep(seq_len(n_s), times = n_cl)
anx <- round(rep(rnorm(n_cl), each = n_s), 4)
b0 <- rnorm(n_cl, sd = 1.0)
b1 <- rnorm(n_cl, sd = 0.05)
t0 <- rnorm(n_th, sd = 0.4)
eta <- -1.3 - 0.05 * session + 0.5 * anx + b0[client] + b1[client] * session + t0[therapist]
cried <- rbinom(length(eta), 1, plogis(eta))
sessions <- data.frame(therapist = therapist, client = client, session = session, anx = anx, cried = cried)
write.csv(sessions, file.path(data_dir, "glmer_sessions.csv"), row.names = FALSE)

# lme4's cbpp as one 0/1 row per animal.
cb <- lme4::cbpp
rows <- lapply(seq_len(nrow(cb)), function(i) {
  data.frame(herd = as.character(cb$herd[i]), period = as.character(cb$period[i]),
             y = c(rep(1L, cb$incidence[i]), rep(0L, cb$size[i] - cb$incidence[i])))
})
cbpp01 <- do.call(rbind, rows)
write.csv(cbpp01, file.path(data_dir, "glmer_cbpp.csv"), row.names = FALSE)

# Extremes. Quasi-complete separation: every treated client cried in every session.
set.seed(2)
g <- rep(1:40, each = 5)
tr <- rep(rbinom(40, 1, 0.5), each = 5)
separated <- data.frame(g = g, tr = tr, y = ifelse(tr == 1, 1L, rbinom(200, 1, 0.4)))
write.csv(separated, file.path(data_dir, "glmer_separated.csv"), row.names = FALSE)

# No group effect and 6 rows per group: the random-intercept variance is estimated as 0 (seed 3 is the
# first seed from 1 for which glmer's estimate is exactly 0).
set.seed(3)
singular <- data.frame(g = rep(1:30, each = 6), x = round(rnorm(180), 4))
singular$y <- rbinom(180, 1, plogis(-0.3 + 0.5 * singular$x))
write.csv(singular, file.path(data_dir, "glmer_singular.csv"), row.names = FALSE)

# One observation per group (glmer fits it; the variance is estimated at or next to 0), and a design with
# half the groups of size one.
set.seed(3)
singletons <- data.frame(g = 1:50, x = round(rnorm(50), 4))
singletons$y <- rbinom(50, 1, 0.5)
write.csv(singletons, file.path(data_dir, "glmer_singletons.csv"), row.names = FALSE)
set.seed(5)
sizes <- c(rep(1, 60), sample(2:12, 60, replace = TRUE))
mixed_sizes <- data.frame(g = rep(seq_along(sizes), sizes))
mixed_sizes$x <- round(rnorm(nrow(mixed_sizes)), 4)
mixed_sizes$y <- rbinom(nrow(mixed_sizes), 1, plogis(0.2 + 0.7 * mixed_sizes$x + rnorm(length(sizes))[mixed_sizes$g]))
write.csv(mixed_sizes, file.path(data_dir, "glmer_mixed_sizes.csv"), row.names = FALSE)

datasets <- list(glmer_sessions = sessions, glmer_cbpp = cbpp01, glmer_separated = separated,
                 glmer_singular = singular, glmer_singletons = singletons, glmer_mixed_sizes = mixed_sizes)

# ---- fits ------------------------------------------------------------------------------------------------
polish <- function(fit, theta) {
  dd <- tryCatch(update(fit, devFunOnly = TRUE, control = tight(1e-14)), error = function(e) NULL)
  if (is.null(dd)) return(NULL)
  nth <- length(theta)
  f <- function(p) tryCatch(dd(p), error = function(e) 1e10)
  par0 <- c(theta, unname(fixef(fit)))
  lower <- c(getME(fit, "lower"), rep(-Inf, length(par0) - nth))
  opt <- minqa::bobyqa(par0, f, lower = lower, control = list(rhobeg = 1e-3, rhoend = 1e-12, maxfun = 1e5))
  h <- numDeriv::hessian(f, opt$par)
  v <- tryCatch(2 * solve(h)[-seq_len(nth), -seq_len(nth), drop = FALSE], error = function(e) NULL)
  list(theta = I(opt$par[seq_len(nth)]), beta = I(opt$par[-seq_len(nth)]), deviance = opt$fval,
       loglik = -opt$fval / 2, se = if (is.null(v)) NULL else I(sqrt(diag(v))),
       vcov = if (is.null(v)) NULL else unname(v), max_abs_grad = max(abs(numDeriv::grad(f, opt$par))))
}

record <- function(formula, data_name, nagq, ranef_levels = Inf) {
  fit_with <- function(tol) {
    warns <<- character(0)
    withCallingHandlers(
      glmer(as.formula(formula), data = datasets[[data_name]], family = binomial, nAGQ = nagq,
            control = tight(tol)),
      warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
      message = function(m) { warns <<- c(warns, conditionMessage(m)); invokeRestart("muffleMessage") }
    )
  }
  warns <- character(0)
  tol_pwrss <- 1e-14
  fit <- tryCatch(fit_with(tol_pwrss), error = function(e) NULL)
  if (is.null(fit)) {
    tol_pwrss <- 1e-12
    fit <- fit_with(tol_pwrss)
  }
  vwarn <- character(0)
  v <- withCallingHandlers(as.matrix(vcov(fit)),
    warning = function(w) { vwarn <<- c(vwarn, conditionMessage(w)); invokeRestart("muffleWarning") })
  co <- summary(fit)$coefficients
  theta <- unname(getME(fit, "theta"))
  dd <- update(fit, devFunOnly = TRUE)
  par <- c(theta, unname(fixef(fit)))
  grad <- numDeriv::grad(dd, par)
  off <- par + c(rep(0.1, length(theta)), rep(0.01, length(par) - length(theta)))
  dev_points <- list(par = list(I(par), I(off)), deviance = I(c(dd(par), dd(off))))
  re <- ranef(fit, condVar = TRUE)
  re_out <- lapply(names(re), function(gname) {
    r <- re[[gname]]
    pv <- attr(r, "postVar")
    k <- min(nrow(r), ranef_levels)
    list(group = gname, level = I(rownames(r)[seq_len(k)]), columns = I(colnames(r)),
         modes = unname(as.matrix(r))[seq_len(k), , drop = FALSE],
         condvar = lapply(seq_len(k), function(i) unname(matrix(pv[, , i], ncol(r)))))
  })
  polished <- polish(fit, theta)
  list(
    formula = formula, data = data_name, nagq = nagq, tol_pwrss = tol_pwrss, dev_points = dev_points,
    polished = polished,
    fixed = list(term = I(rownames(co)), estimate = I(unname(co[, "Estimate"])),
                 se = I(unname(co[, "Std. Error"])), z = I(unname(co[, "z value"])),
                 p = I(unname(co[, "Pr(>|z|)"]))),
    vcov = list(term = I(rownames(v)), matrix = unname(v)),
    vcov_warnings = I(vwarn),
    theta = I(theta),
    varcomp = as.data.frame(VarCorr(fit)),
    loglik = as.numeric(logLik(fit)), deviance = deviance(fit), df_loglik = attr(logLik(fit), "df"),
    aic = AIC(fit), bic = BIC(fit), nobs = nobs(fit), ngroups = as.list(ngrps(fit)),
    singular = isSingular(fit),
    warnings = I(warns),
    conv_messages = I(as.character(fit@optinfo$conv$lme4$messages)),
    max_abs_grad = max(abs(grad)),
    ranef = re_out,
    fitted_head = unname(head(fitted(fit), 5))
  )
}

cases <- list()
f <- "cried ~ session + anx + (1 | client)"
for (k in c(1, 5, 9)) cases[[paste0("sessions_agq", k)]] <- record(f, "glmer_sessions", k, ranef_levels = 50)
cases$cbpp_agq1 <- record("y ~ period + (1 | herd)", "glmer_cbpp", 1)
cases$cbpp_agq9 <- record("y ~ period + (1 | herd)", "glmer_cbpp", 9)
cases$sessions_slope <- record("cried ~ session + anx + (1 + session | client)", "glmer_sessions", 1,
                               ranef_levels = 50)
cases$sessions_two_terms <- record("cried ~ session + anx + (1 | client) + (1 | therapist)", "glmer_sessions",
                                   1, ranef_levels = 50)
# A scalar random slope without an intercept (glmer's nAGQ > 1 accepts it), and nested factors.
cases$scalar_slope <- record("cried ~ session + anx + (0 + session | client)", "glmer_sessions", 1,
                             ranef_levels = 50)
cases$scalar_slope_agq5 <- record("cried ~ session + anx + (0 + session | client)", "glmer_sessions", 5,
                                  ranef_levels = 50)
cases$nested <- record("cried ~ session + anx + (1 | therapist/client)", "glmer_sessions", 1, ranef_levels = 50)
cases$separated <- record("y ~ tr + (1 | g)", "glmer_separated", 1)
cases$singular <- record("y ~ x + (1 | g)", "glmer_singular", 1)
cases$singletons <- record("y ~ x + (1 | g)", "glmer_singletons", 1)
cases$mixed_sizes <- record("y ~ x + (1 | g)", "glmer_mixed_sizes", 1)
cases$mixed_sizes_agq5 <- record("y ~ x + (1 | g)", "glmer_mixed_sizes", 5)

# nAGQ > 1 with a vector random effect is refused by glmer: record its message.
cases$agq_refused <- list(
  formula = "cried ~ session + anx + (1 + session | client)",
  message = tryCatch({
    glmer(cried ~ session + anx + (1 + session | client), data = sessions, family = binomial, nAGQ = 5)
    ""
  }, error = function(e) conditionMessage(e))
)
cases$r_version <- R.version.string
cases$lme4_version <- as.character(packageVersion("lme4"))
write_json(cases, file.path(out_dir, "glmer_engine.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE,
           na = "null")
cat("wrote", file.path(out_dir, "glmer_engine.json"), "\n")
