# Reference values for lacrima.crosscultural.multisite: per-site effects and their random-effects
# meta-analyses with metafor (checked with metafor 3.8-1).
#
# Run from the repository root:   Rscript tests/reference/multisite.R
# Writes tests/reference/multisite.json and the simulated data to tests/reference/data/multisite.csv.
#
# Three sites (a, b, c) are analysed; site d has 12 rows and is below min_site_n = 20, so it is skipped.
# Effects: r(x, y); partial r(x, y | z) (Fisher's z with vi = 1 / (n - q - 3), q = 1 covariate);
# Hedges' g of y, grp 1 minus grp 0 (escalc "SMD", vtype "LS"); odds ratio of having cried, women vs men
# (escalc "OR", log scale). Each set is pooled with rma(method = "REML").

suppressMessages(library(metafor))
suppressMessages(library(jsonlite))

out_dir <- "tests/reference"
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)

set.seed(20241125)
sizes <- c(a = 60, b = 80, c = 100, d = 12)
slopes <- c(a = 0.2, b = 0.5, c = 0.35, d = 0.3)
rows <- list()
for (s in names(sizes)) {
  n <- sizes[[s]]
  z <- rnorm(n)
  x <- 0.4 * z + rnorm(n)
  grp <- rbinom(n, 1, 0.5)
  y <- slopes[[s]] * x + 0.3 * z + 0.4 * grp + rnorm(n)
  gender <- ifelse(runif(n) < 0.65, "woman", "man")
  cried <- rbinom(n, 1, ifelse(gender == "woman", 0.8, 0.6))
  rows[[s]] <- data.frame(participant_id = paste0(s, seq_len(n)), site = s, gender = gender,
                          cried_in_therapy = cried, x = x, y = y, z = z, grp = grp)
}
dat <- do.call(rbind, rows)
rownames(dat) <- NULL
write.csv(dat, file.path(data_dir, "multisite.csv"), row.names = FALSE)

sites <- c("a", "b", "c")
per_site <- lapply(sites, function(s) {
  d <- dat[dat$site == s, ]
  n <- nrow(d)
  r <- cor(d$x, d$y)
  pr <- cor(resid(lm(x ~ z, data = d)), resid(lm(y ~ z, data = d)))
  g1 <- d$y[d$grp == 1]
  g0 <- d$y[d$grp == 0]
  tab <- c(ai = sum(d$gender == "woman" & d$cried_in_therapy == 1),
           bi = sum(d$gender == "woman" & d$cried_in_therapy == 0),
           ci = sum(d$gender == "man" & d$cried_in_therapy == 1),
           di = sum(d$gender == "man" & d$cried_in_therapy == 0))
  list(site = s, n = n, r = r, partial_r = pr,
       m1 = mean(g1), sd1 = sd(g1), n1 = length(g1), m0 = mean(g0), sd0 = sd(g0), n0 = length(g0),
       ai = tab[["ai"]], bi = tab[["bi"]], ci = tab[["ci"]], di = tab[["di"]])
})
ps <- do.call(rbind, lapply(per_site, as.data.frame))

summarise <- function(es, res, transf = identity) {
  pr <- predict(res)
  list(yi = as.vector(es$yi), vi = as.vector(es$vi), k = res$k,
       estimate = transf(as.vector(res$beta)), ci_lb = transf(res$ci.lb), ci_ub = transf(res$ci.ub),
       pi_lb = transf(pr$pi.lb), pi_ub = transf(pr$pi.ub),
       estimate_raw = as.vector(res$beta), se = res$se, pval = res$pval,
       tau2 = res$tau2, I2 = res$I2, QE = res$QE, QEp = res$QEp)
}

es_r <- escalc(measure = "ZCOR", ri = ps$r, ni = ps$n)
res_r <- rma(yi, vi, data = es_r, method = "REML")

# Fisher's z of a partial correlation with q covariates has variance 1 / (n - q - 3): ZCOR with n - q.
# (metafor's ZPCOR uses 1 / (ni - mi - 1) with mi predictors, i.e. 1 / (n - q - 2); lacrima keeps Fisher's.)
es_p <- escalc(measure = "ZCOR", ri = ps$partial_r, ni = ps$n - 1)
res_p <- rma(yi, vi, data = es_p, method = "REML")

es_g <- escalc(measure = "SMD", m1i = ps$m1, sd1i = ps$sd1, n1i = ps$n1,
               m2i = ps$m0, sd2i = ps$sd0, n2i = ps$n0)
res_g <- rma(yi, vi, data = es_g, method = "REML")

es_or <- escalc(measure = "OR", ai = ps$ai, bi = ps$bi, ci = ps$ci, di = ps$di)
res_or <- rma(yi, vi, data = es_or, method = "REML")

out <- list(
  sites = sites,
  per_site = ps,
  r = summarise(es_r, res_r, transf.ztor),
  partial_r = summarise(es_p, res_p, transf.ztor),
  hedges_g = summarise(es_g, res_g),
  odds_ratio = summarise(es_or, res_or, exp),
  versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(out_dir, "multisite.json"))
