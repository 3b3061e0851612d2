# References for lacrima's own LMM engine (issue 14): lme4 1.1-31 and lmerTest 3.1-3.
# Run from the repository root:  Rscript tests/reference/lme4_engine.R
# Writes tests/reference/lme4_engine.json and the data sets tests/reference/data/lme4_engine_*.csv(.gz).
#
# Each case records lme4's default fit (lmer, bobyqa) and, as "tight", the optimum of lme4's own profiled
# deviance function polished by Newton steps with numDeriv's Richardson gradient and Hessian (parameters
# on the boundary held at 0), built into a merMod with lme4's modular interface (lFormula, mkLmerDevfun,
# mkMerMod) and given lmerTest's Satterthwaite df. bobyqa stops on a change in the deviance, which is
# flat to ~1e-11 near the optimum, so its estimates can sit ~1e-6 (relative) from the optimum in the
# flat directions; the polished optimum is where lme4's own deviance has zero gradient.
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(numDeriv)
  library(jsonlite)
})

out_dir <- "tests/reference"
data_dir <- file.path(out_dir, "data")

vc_frame <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  vc$var1 <- ifelse(is.na(vc$var1), NA, vc$var1)
  vc
}

# Conditional modes and standard deviations (as.data.frame(ranef(condVar = TRUE))) of the first levels of
# each factor, and the full q x q conditional covariances where lme4 gives them as one array per factor.
condvar_record <- function(fit, n_levels = 5) {
  re <- ranef(fit, condVar = TRUE)
  tab <- as.data.frame(re)
  keep <- unlist(lapply(split(seq_len(nrow(tab)), paste(tab$grpvar, tab$term)), function(i) head(i, n_levels)))
  tab <- tab[sort(keep), ]
  full <- lapply(re, function(r) {
    pv <- attr(r, "postVar")
    if (!is.array(pv) || length(dim(pv)) != 3) return(NULL)
    k <- min(n_levels, nrow(r))
    list(level = I(rownames(r)[seq_len(k)]), condvar = lapply(seq_len(k), function(i) I(unname(pv[, , i]))))
  })
  list(table = list(grpvar = I(as.character(tab$grpvar)), term = I(as.character(tab$term)),
                    grp = I(as.character(tab$grp)), condval = I(tab$condval), condsd = I(tab$condsd)),
       full = full)
}

record <- function(fit, n_levels = 5) {
  re <- ranef(fit, condVar = TRUE)
  lapply(re, function(r) {
    pv <- attr(r, "postVar")
    k <- min(n_levels, nrow(r))
    list(level = I(rownames(r)[seq_len(k)]), mode = unname(as.matrix(r[seq_len(k), , drop = FALSE])),
         condvar = lapply(seq_len(k), function(i) unname(pv[, , i])))
  })
}

record <- function(fit, with_condvar = TRUE) {
  s <- summary(fit)
  co <- s$coefficients
  v <- as.matrix(vcov(fit))
  out <- list(
    theta = unname(getME(fit, "theta")),
    fixed = list(
      term = I(rownames(co)), estimate = I(unname(co[, "Estimate"])), se = I(unname(co[, "Std. Error"])),
      df = I(unname(co[, "df"])), t = I(unname(co[, "t value"]))
    ),
    varcomp = vc_frame(fit),
    loglik = as.numeric(logLik(fit)), deviance = as.numeric(-2 * logLik(fit)),
    df_loglik = attr(logLik(fit), "df"), nobs = nobs(fit), ngroups = as.list(ngrps(fit)),
    singular = isSingular(fit), vcov = list(term = I(rownames(v)), matrix = unname(v)),
    messages = I(as.character(fit@optinfo$conv$lme4$messages))
  )
  if (with_condvar) out$condvar <- condvar_record(fit)
  out
}

polish <- function(formula, data, reml) {
  lf <- lFormula(as.formula(formula), data = data, REML = reml)
  devfun <- do.call(mkLmerDevfun, lf)
  opt0 <- optimizeLmer(devfun, optimizer = "bobyqa", control = list(maxfun = 1e5))
  lower <- environment(devfun)$lower
  th <- opt0$par
  fixed0 <- lower == 0 & th < 1e-6
  th[fixed0] <- 0
  free <- !fixed0
  f <- function(t) {
    x <- th
    x[free] <- t
    devfun(x)
  }
  steps <- 0
  if (any(free)) {
    for (i in 1:8) {
      g <- grad(f, th[free])
      h <- hessian(f, th[free])
      step <- -solve(h, g)
      th[free] <- th[free] + step
      steps <- i
      if (max(abs(step) / pmax(abs(th[free]), 0.1)) < 1e-11) break
    }
  }
  # The gradient first: merMod objects share lme4's mutable state with the deviance function, so the
  # last evaluation before mkMerMod must be at the optimum itself.
  gradient <- if (any(free)) grad(f, th[free]) else numeric(0)
  opt <- list(par = th, fval = devfun(th), conv = 0, feval = NA,
              message = sprintf("Newton polish of lme4's deviance (numDeriv), %d steps", steps))
  m <- mkMerMod(environment(devfun), opt, lf$reTrms, fr = lf$fr)
  # lmerTest rebuilds the deviance function from the call: point it at a global copy of the data.
  assign(".engine_data", data, envir = globalenv())
  m@call <- call("lmer", formula = as.formula(formula), data = as.name(".engine_data"), REML = reml)
  list(fit = as_lmerModLmerTest(m), gradient = I(gradient), default_deviance = opt0$fval)
}

case <- function(formula, data, data_name, reml = TRUE, condvar = TRUE) {
  m <- lmer(as.formula(formula), data = data, REML = reml)
  p <- polish(formula, data, reml)
  list(formula = formula, data = data_name, reml = reml, default = record(m, condvar),
       tight = record(p$fit, condvar), tight_gradient = p$gradient)
}

refused <- function(formula, data, data_name, reml = TRUE) {
  msg <- tryCatch({
    lmer(as.formula(formula), data = data, REML = reml)
    NA_character_
  }, error = function(e) conditionMessage(e))
  list(formula = formula, data = data_name, reml = reml, error = msg)
}

cases <- list()

# ---- the existing golden designs (tests/reference/lme4.R's data), tight ---------------------------------
sleep <- read.csv(file.path(data_dir, "sleepstudy.csv"))
three <- read.csv(file.path(data_dir, "three_level.csv"))
pen <- read.csv(file.path(data_dir, "penicillin.csv"))
cases$sleep_reml <- case("Reaction ~ Days + (Days | Subject)", sleep, "sleepstudy", TRUE)
cases$sleep_ml <- case("Reaction ~ Days + (Days | Subject)", sleep, "sleepstudy", FALSE)
cases$sleep_uncorrelated <- case("Reaction ~ Days + (Days || Subject)", sleep, "sleepstudy", TRUE)
f3 <- "y ~ session + cried + (1 + session | client) + (1 | therapist)"
cases$three_level_reml <- case(f3, three, "three_level", TRUE)
cases$three_level_ml <- case(f3, three, "three_level", FALSE)
cases$nested_interaction <- case("y ~ session * gender + (1 | therapist/client)", three, "three_level", TRUE)
cases$factor_coding <- case(
  "y ~ 0 + gender + session:gender + cried + (1 + session | client) + (1 | therapist)", three, "three_level", TRUE
)
cases$crossed <- case("diameter ~ 1 + (1 | plate) + (1 | sample)", pen, "penicillin", TRUE)

# ---- simulated extremes -------------------------------------------------------------------------------------
set.seed(20261202)
# A random slope with no variance: lme4 puts the slope's factor entries on the boundary (singular fit).
g <- rep(1:40, each = 6)
x <- rep(0:5, times = 40)
y <- 2 + 0.5 * x + rnorm(40, sd = 1)[g] + rnorm(240, sd = 0.7)
ext_slope <- data.frame(g = paste0("g", g), x = x, y = y)
write.csv(ext_slope, file.path(data_dir, "lme4_engine_singular.csv"), row.names = FALSE)
cases$singular_slope <- case("y ~ x + (1 + x | g)", ext_slope, "lme4_engine_singular", TRUE)

# No group effect at all: the intercept variance is estimated as exactly 0.
g <- rep(1:30, each = 5)
y <- 1 + rnorm(150)
ext_zero <- data.frame(g = paste0("g", g), h = paste0("h", rep(1:10, times = 15)), x = rnorm(150), y = y)
ext_zero$y <- ext_zero$y + 0.3 * ext_zero$x + rnorm(10, sd = 0.8)[rep(1:10, times = 15)]
write.csv(ext_zero, file.path(data_dir, "lme4_engine_zero.csv"), row.names = FALSE)
cases$zero_variance <- case("y ~ x + (1 | g)", ext_zero, "lme4_engine_zero", TRUE)
cases$zero_variance_crossed <- case("y ~ x + (1 | g) + (1 | h)", ext_zero, "lme4_engine_zero", TRUE)
cases$zero_variance_ml <- case("y ~ x + (1 | g) + (1 | h)", ext_zero, "lme4_engine_zero", FALSE)

# One observation per group: lme4 refuses (levels must be fewer than observations) ...
single <- data.frame(g = paste0("s", 1:60), x = rnorm(60))
single$y <- 1 + 0.4 * single$x + rnorm(60)
# ... and a random slope with 2 observations per group has as many random effects as observations.
pairs <- data.frame(g = paste0("p", rep(1:30, each = 2)), x = rnorm(60))
pairs$y <- 1 + 0.4 * pairs$x + rnorm(60)
# Groups of size 1 mixed with larger groups are fine.
sizes <- c(rep(1, 25), rep(4, 15))
mixed_g <- rep(seq_along(sizes), times = sizes)
mix <- data.frame(g = paste0("m", mixed_g), x = rnorm(length(mixed_g)))
mix$y <- 1 + 0.4 * mix$x + rnorm(length(sizes), sd = 0.9)[mixed_g] + rnorm(length(mixed_g), sd = 0.6)
ext_small <- rbind(cbind(set = "single", single), cbind(set = "pairs", pairs), cbind(set = "mixed", mix))
write.csv(ext_small, file.path(data_dir, "lme4_engine_small.csv"), row.names = FALSE)
cases$one_per_group <- refused("y ~ x + (1 | g)", single, "lme4_engine_small:single")
cases$slope_two_per_group <- refused("y ~ x + (1 + x | g)", pairs, "lme4_engine_small:pairs")
cases$singletons_mixed <- case("y ~ x + (1 | g)", mix, "lme4_engine_small:mixed", TRUE)

# ---- a large crossed design: lme4's InstEval (73,421 ratings, 2,972 students, 1,128 lecturers) ---------------
ie <- lme4::InstEval
inst <- data.frame(s = as.integer(as.character(ie$s)), d = as.integer(as.character(ie$d)),
                   dept = as.integer(as.character(ie$dept)), service = as.integer(as.character(ie$service)),
                   y = ie$y)
gz <- gzfile(file.path(data_dir, "lme4_engine_insteval.csv.gz"), "w")
write.csv(inst, gz, row.names = FALSE)
close(gz)
cases$insteval <- case("y ~ service + (1 | s) + (1 | d) + (1 | dept)", inst, "lme4_engine_insteval", TRUE,
                       condvar = TRUE)

cases$versions <- list(r = R.version.string, lme4 = as.character(packageVersion("lme4")),
                       lmerTest = as.character(packageVersion("lmerTest")),
                       numDeriv = as.character(packageVersion("numDeriv")))
write_json(cases, file.path(out_dir, "lme4_engine.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE,
           na = "null")
cat("wrote", file.path(out_dir, "lme4_engine.json"), "\n")
