# Reference values for lacrima's consortium report (src/lacrima/report/_pooled.py):
# pooled and per-site (partial) correlations and a random-effects meta-analysis of per-site partial
# correlations (Fisher z with variance 1/(n - 3 - k), k covariates).
# Run from the repository root: Rscript tests/reference/pooled_partial.R
suppressMessages({
  library(metafor)
  library(jsonlite)
})
set.seed(20261125)
sites <- c("rome" = 90, "tel_aviv" = 70, "new_york" = 110)
rows <- list()
for (s in names(sites)) {
  n <- sites[[s]]
  shift <- switch(s, rome = 0.0, tel_aviv = 0.3, new_york = -0.2)
  slope <- switch(s, rome = 0.45, tel_aviv = 0.15, new_york = 0.35)
  c1 <- rnorm(n, 3 + shift, 1)
  c2 <- rnorm(n, 2, 0.8) + 0.3 * c1
  x <- 0.4 * c1 + rnorm(n, shift, 1)
  y <- slope * x + 0.3 * c2 - 0.2 * c1 + rnorm(n, 4, 1)
  rows[[s]] <- data.frame(site = s, x = x, y = y, c1 = c1, c2 = c2)
}
dat <- do.call(rbind, rows)
rownames(dat) <- NULL
write.csv(dat, "tests/reference/data/pooled_partial.csv", row.names = FALSE)

pcor <- function(d) cor(resid(lm(x ~ c1 + c2, data = d)), resid(lm(y ~ c1 + c2, data = d)))
p_partial <- function(d) summary(lm(y ~ x + c1 + c2, data = d))$coefficients["x", "Pr(>|t|)"]
ci_r <- function(r, n, k) tanh(atanh(r) + c(-1, 1) * qnorm(0.975) / sqrt(n - 3 - k))

site_rows <- lapply(split(dat, factor(dat$site, levels = names(sites))), function(d) {
  r0 <- cor(d$x, d$y)
  rp <- pcor(d)
  list(site = d$site[1], n = nrow(d), r = r0, r_partial = rp, p_partial = p_partial(d),
       ci_partial = ci_r(rp, nrow(d), 2))
})
n_all <- nrow(dat)
rp_all <- pcor(dat)
r_all <- cor(dat$x, dat$y)

meta_fit <- function(ri, ni, method) {
  es <- escalc(measure = "ZCOR", ri = ri, ni = ni)
  fit <- rma(yi, vi, data = es, method = method)
  pr <- predict(fit, transf = transf.ztor)
  list(estimate = pr$pred, ci = c(pr$ci.lb, pr$ci.ub), pi = c(pr$pi.lb, pr$pi.ub),
       estimate_z = as.numeric(fit$beta), se_z = fit$se, p = fit$pval, tau2 = fit$tau2, i2 = fit$I2,
       q = fit$QE, q_p = fit$QEp)
}
ns <- sapply(site_rows, `[[`, "n")
rps <- sapply(site_rows, `[[`, "r_partial")
r0s <- sapply(site_rows, `[[`, "r")
out <- list(
  sites = unname(site_rows),
  pooled = list(
    n = n_all, r = r_all, r_partial = rp_all,
    p_partial = p_partial(dat), ci_partial = ci_r(rp_all, n_all, 2),
    p = cor.test(dat$x, dat$y)$p.value
  ),
  # partial correlations with k = 2 covariates: ni = n - 2 gives vi = 1/(n - 5)
  meta_partial_reml = meta_fit(rps, ns - 2, "REML"),
  meta_partial_dl = meta_fit(rps, ns - 2, "DL"),
  meta_r_reml = meta_fit(r0s, ns, "REML"),
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor"))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/pooled_partial.json")
