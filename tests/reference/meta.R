# Reference values for lacrima.crosscultural.meta, computed with metafor (checked with metafor 3.8-1).
#
# Run from the repository root:   Rscript tests/reference/meta.R
# Writes tests/reference/meta.json and the data sets it uses to tests/reference/data/meta_*.csv.
#
# Tolerances: metafor's PM estimator and its Q-profile CI (confint) stop uniroot() at
# tol = .Machine$double.eps^0.25 (about 1e-4) by default; lacrima solves those equations to machine
# precision, so the reference values below are computed with control = list(tol = 1e-12). REML and ML use
# metafor's default Fisher scoring (threshold 1e-5), which lacrima reproduces step by step. The PM estimate
# with metafor's default tolerance is stored as well ("PM_default_tol").

suppressMessages(library(metafor))
suppressMessages(library(jsonlite))

out_dir <- "tests/reference"
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)

tight <- list(tol = 1e-12)

fit_summary <- function(res, transf = NULL) {
  out <- list(
    method = res$method, test = res$test, k = res$k,
    b = as.vector(res$beta), se = res$se, zval = res$zval, pval = res$pval,
    ci_lb = res$ci.lb, ci_ub = res$ci.ub,
    tau2 = res$tau2, se_tau2 = res$se.tau2,
    I2 = res$I2, H2 = res$H2, QE = res$QE, QEp = res$QEp,
    weights = as.vector(weights(res)),
    vt = res$vt
  )
  pr <- predict(res)
  out$pred <- pr$pred
  out$pred_ci_lb <- pr$ci.lb
  out$pred_ci_ub <- pr$ci.ub
  out$pi_lb <- if (is.null(pr$pi.lb)) pr$ci.lb else pr$pi.lb
  out$pi_ub <- if (is.null(pr$pi.ub)) pr$ci.ub else pr$pi.ub
  if (!is.null(transf)) {
    pt <- predict(res, transf = transf)
    out$transf <- list(pred = pt$pred, ci_lb = pt$ci.lb, ci_ub = pt$ci.ub,
                       pi_lb = if (is.null(pt$pi.lb)) pt$ci.lb else pt$pi.lb,
                       pi_ub = if (is.null(pt$pi.ub)) pt$ci.ub else pt$pi.ub)
  }
  if (!(res$method %in% c("FE", "EE", "CE"))) {
    ci <- confint(res, control = tight)$random
    out$tau2_ci <- as.vector(ci["tau^2", c("ci.lb", "ci.ub")])
    out$I2_ci <- as.vector(ci["I^2(%)", c("ci.lb", "ci.ub")])
    out$H2_ci <- as.vector(ci["H^2", c("ci.lb", "ci.ub")])
  }
  if (!is.null(res$R2)) {
    out$R2 <- res$R2
    out$QM <- res$QM
    out$QMp <- res$QMp
    out$QMdf <- as.vector(res$QMdf)
  }
  out
}

fit_set <- function(yi, vi, transf = NULL) {
  fits <- list()
  for (m in c("DL", "REML", "PM", "ML", "FE")) {
    ctrl <- if (m == "PM") tight else list()
    fits[[m]] <- fit_summary(rma(yi, vi, method = m, control = ctrl), transf)
  }
  fits[["REML_knha"]] <- fit_summary(rma(yi, vi, method = "REML", test = "knha"), transf)
  fits[["DL_knha"]] <- fit_summary(rma(yi, vi, method = "DL", test = "knha"), transf)
  fits[["PM_default_tol"]] <- list(tau2 = rma(yi, vi, method = "PM")$tau2)
  fits[["REML_level90"]] <- fit_summary(rma(yi, vi, method = "REML", level = 90), transf)
  fits
}

ref <- list(metafor_version = as.character(packageVersion("metafor")))

# 1. Correlations: Molloy et al. (2014), conscientiousness and medication adherence.
molloy <- dat.molloy2014[, c("authors", "year", "ni", "ri", "meanage")]
write.csv(molloy, file.path(data_dir, "meta_molloy2014.csv"), row.names = FALSE)
dz <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = molloy)
study_ci <- summary(dz, transf = transf.ztor)
ref$molloy2014 <- list(
  yi = as.vector(dz$yi), vi = as.vector(dz$vi),
  study_ci_lb = as.vector(study_ci$ci.lb), study_ci_ub = as.vector(study_ci$ci.ub),
  fits = fit_set(dz$yi, dz$vi, transf = transf.ztor)
)
# Meta-regression of Fisher z on mean age (mixed-effects model).
mr <- rma(yi, vi, mods = ~ meanage, data = dz)
ref$molloy2014$metareg_meanage <- fit_summary(mr)
# A homogeneous subset (tau^2 estimated at the boundary 0) and a two-study subset.
sub0 <- c(1, 3, 5, 7, 9)
ref$molloy2014$subset_tau0 <- list(
  rows = sub0,
  REML = fit_summary(rma(yi, vi, data = dz[sub0, ], method = "REML")),
  DL = fit_summary(rma(yi, vi, data = dz[sub0, ], method = "DL"))
)
ref$molloy2014$subset_k2 <- list(
  rows = c(1, 2),
  REML = fit_summary(rma(yi, vi, data = dz[1:2, ], method = "REML"))
)

# 2. Standardised mean differences: Normand (1999), length of hospital stay.
normand <- dat.normand1999[, c("study", "source", "n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")]
write.csv(normand, file.path(data_dir, "meta_normand1999.csv"), row.names = FALSE)
ds <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
             data = normand)
ref$normand1999 <- list(
  yi = as.vector(ds$yi), vi = as.vector(ds$vi),
  fits = fit_set(ds$yi, ds$vi)
)

# 3. Generic effects: BCG vaccine trials (log risk ratios), with a meta-regression on absolute latitude.
bcg <- dat.bcg[, c("trial", "author", "year", "tpos", "tneg", "cpos", "cneg", "ablat")]
write.csv(bcg, file.path(data_dir, "meta_bcg.csv"), row.names = FALSE)
db <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
ref$bcg <- list(
  yi = as.vector(db$yi), vi = as.vector(db$vi),
  fits = fit_set(db$yi, db$vi),
  metareg = list(
    ablat_REML = fit_summary(rma(yi, vi, mods = ~ ablat, data = db, method = "REML")),
    ablat_REML_knha = fit_summary(rma(yi, vi, mods = ~ ablat, data = db, method = "REML", test = "knha")),
    ablat_year_REML = fit_summary(rma(yi, vi, mods = ~ ablat + year, data = db, method = "REML")),
    ablat_DL = fit_summary(rma(yi, vi, mods = ~ ablat, data = db, method = "DL")),
    ablat_ML = fit_summary(rma(yi, vi, mods = ~ ablat, data = db, method = "ML")),
    ablat_PM = fit_summary(rma(yi, vi, mods = ~ ablat, data = db, method = "PM", control = tight)),
    ablat_FE = fit_summary(rma(yi, vi, mods = ~ ablat, data = db, method = "FE"))
  )
)

write(toJSON(ref, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(out_dir, "meta.json"))
cat("wrote", file.path(out_dir, "meta.json"), "\n")
