# Reference values for lacrima.analysis (the replication battery).
# Run from the repository root:  Rscript tests/reference/battery.R
# Writes tests/reference/battery.json and tests/reference/data/battery_*.csv.
# R 4.2.2, psych 2.2.9, boot 1.3-28.1, jsonlite.
suppressPackageStartupMessages({
  library(psych)
  library(boot)
  library(jsonlite)
})

out_dir <- "tests/reference"
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)
ref <- list(versions = list(R = R.version.string, psych = as.character(packageVersion("psych")),
                            boot = as.character(packageVersion("boot"))))

# ---- data: the first 124 respondents of psych::bfi (N of the 2024 replication), scale means ------------
b <- psych::bfi[1:124, ]
d <- data.frame(
  id = seq_len(nrow(b)),
  gender = b$gender,                       # 1 male, 2 female
  education = b$education,                 # 1-5, some NA
  age = b$age,
  agree = rowMeans(cbind(7 - b$A1, b$A2, b$A3, b$A4, b$A5)),
  consc = rowMeans(cbind(b$C1, b$C2, b$C3, 7 - b$C4, 7 - b$C5)),
  extra = rowMeans(cbind(7 - b$E1, 7 - b$E2, b$E3, b$E4, b$E5)),
  neuro = rowMeans(cbind(b$N1, b$N2, b$N3, b$N4, b$N5)),
  open = rowMeans(cbind(b$O1, 7 - b$O2, b$O3, b$O4, 7 - b$O5))
)
d$high_neuro <- as.integer(d$neuro > 3.5)          # NA where neuro is NA
d$young <- as.integer(d$age < 25)
d$educ3 <- ifelse(is.na(d$education), NA, ifelse(d$education <= 2, "low", ifelse(d$education == 3, "mid", "high")))
write.csv(d, file.path(data_dir, "battery_bfi.csv"), row.names = FALSE, na = "")
m <- datasets::mtcars
m$model <- rownames(m)
m$pw <- m$mpg / m$wt                                # no ties: exact Wilcoxon p
write.csv(m, file.path(data_dir, "battery_mtcars.csv"), row.names = FALSE)

# ---- descriptives -------------------------------------------------------------------------------------
desc <- list()
for (tp in 1:3) {
  # one complete vector at a time: for a data frame with NAs psych's kurtosi(type = 1) divides by the
  # number of rows including the NAs, which is not the type-1 definition
  ds <- do.call(rbind, lapply(c("agree", "neuro", "age"), function(v) {
    out <- psych::describe(na.omit(d[[v]]), type = tp)
    rownames(out) <- v
    out
  }))
  desc[[paste0("type", tp)]] <- list(variable = rownames(ds), n = ds$n, mean = ds$mean, sd = ds$sd,
                                     median = ds$median, min = ds$min, max = ds$max, skew = ds$skew,
                                     kurtosis = ds$kurtosis, se = ds$se)
}
by_g <- psych::describeBy(d$neuro, group = d$gender, type = 3, mat = TRUE)
desc$by_gender_neuro <- list(group = as.integer(as.character(by_g$group1)), n = by_g$n, mean = by_g$mean,
                             sd = by_g$sd, skew = by_g$skew, kurtosis = by_g$kurtosis)
ref$descriptives <- desc

prev <- list()
x <- d$high_neuro[!is.na(d$high_neuro)]
pt_all <- prop.test(sum(x), length(x), correct = FALSE)
prev$all <- list(count = sum(x), n = length(x), estimate = unname(pt_all$estimate),
                 ci = as.numeric(pt_all$conf.int))
prev$by_gender <- lapply(c(1, 2), function(g) {
  x <- d$high_neuro[d$gender == g & !is.na(d$high_neuro)]
  p <- prop.test(sum(x), length(x), correct = FALSE)
  list(group = g, count = sum(x), n = length(x), estimate = unname(p$estimate), ci = as.numeric(p$conf.int))
})
ref$prevalence <- prev

# ---- correlations -------------------------------------------------------------------------------------
ct <- cor.test(d$extra, d$agree)
ref$pearson <- list(x = "extra", y = "agree", r = unname(ct$estimate), t = unname(ct$statistic),
                    df = unname(ct$parameter), p = ct$p.value, ci = as.numeric(ct$conf.int),
                    n = sum(complete.cases(d$extra, d$agree)))
cs <- suppressWarnings(cor.test(d$neuro, d$agree, method = "spearman", exact = FALSE))
ns <- sum(complete.cases(d$neuro, d$agree))
zs <- atanh(unname(cs$estimate))
ref$spearman <- list(x = "neuro", y = "agree", r = unname(cs$estimate), p = cs$p.value, n = ns,
                     ci = tanh(zs + c(-1, 1) * qnorm(0.975) / sqrt(ns - 3)))

partial_ref <- function(dat, x, y, z, method = "pearson") {
  cc <- dat[complete.cases(dat[, c(x, y, z)]), c(x, y, z)]
  n <- nrow(cc)
  k <- length(z)
  r <- psych::partial.r(cc, c(x, y), z, method = method)[1, 2]
  dfr <- n - k - 2
  t <- r * sqrt(dfr / (1 - r^2))
  list(x = x, y = y, covar = z, method = method, r = r, t = t, df = dfr, p = 2 * pt(-abs(t), dfr), n = n,
       ci = tanh(atanh(r) + c(-1, 1) * qnorm(0.975) / sqrt(n - k - 3)),
       excluded = nrow(dat) - n)
}
ref$partial <- partial_ref(d, "extra", "agree", c("neuro", "consc"))
ref$partial_spearman <- partial_ref(d, "extra", "agree", c("neuro", "consc"), method = "spearman")
ref$partial_one <- partial_ref(d, "open", "agree", "age")

# ---- two groups: Welch t, Hedges' g (noncentral t CI), Wilcoxon ------------------------------------------
hedges_j <- function(df) exp(lgamma(df / 2) - log(sqrt(df / 2)) - lgamma((df - 1) / 2))
ncp_ci <- function(tobs, df, conf = 0.95) {
  f <- function(ncp, target) pt(tobs, df, ncp) - target
  lo <- uniroot(f, c(tobs - 6, tobs + 6), target = (1 + conf) / 2, tol = 1e-13)$root
  hi <- uniroot(f, c(tobs - 6, tobs + 6), target = (1 - conf) / 2, tol = 1e-13)$root
  c(lo, hi)
}
two_groups <- function(y, g, g1, g2, dv) {
  y1 <- y[g == g1 & !is.na(y) & !is.na(g)]
  y2 <- y[g == g2 & !is.na(y) & !is.na(g)]
  tt <- t.test(y2, y1, var.equal = FALSE)
  n1 <- length(y1); n2 <- length(y2)
  sp <- sqrt(((n1 - 1) * var(y1) + (n2 - 1) * var(y2)) / (n1 + n2 - 2))
  dd <- (mean(y2) - mean(y1)) / sp
  s <- sqrt(1 / n1 + 1 / n2)
  j <- hedges_j(n1 + n2 - 2)
  wt <- suppressWarnings(wilcox.test(y2, y1))
  list(dv = dv, g1 = g1, g2 = g2, n1 = n1, n2 = n2, mean1 = mean(y1), mean2 = mean(y2), sd1 = sd(y1),
       sd2 = sd(y2), t = unname(tt$statistic), df = unname(tt$parameter), p = tt$p.value,
       diff_ci = as.numeric(tt$conf.int), d = dd, j = j, j_approx = 1 - 3 / (4 * (n1 + n2 - 2) - 1),
       g = j * dd, g_ci = j * ncp_ci(dd / s, n1 + n2 - 2) * s,
       w = unname(wt$statistic), w_p = wt$p.value, w_exact = grepl("exact", wt$method),
       rank_biserial = 2 * unname(wt$statistic) / (n1 * n2) - 1)
}
ref$groups_bfi <- two_groups(d$agree, d$gender, 1, 2, "agree")
ref$groups_mtcars <- two_groups(m$pw, m$am, 0, 1, "pw")
w_nc <- wilcox.test(m$pw[m$am == 1], m$pw[m$am == 0], exact = FALSE, correct = FALSE)
ref$groups_mtcars$w_p_normal_nocorrect <- w_nc$p.value

# ---- several groups -----------------------------------------------------------------------------------
ow <- oneway.test(agree ~ educ3, data = d, var.equal = FALSE)
cc <- d[!is.na(d$agree) & !is.na(d$educ3), ]
av <- summary(aov(agree ~ educ3, data = cc))[[1]]
ssb <- av[1, "Sum Sq"]; ssw <- av[2, "Sum Sq"]; msw <- av[2, "Mean Sq"]; k <- 3
kw <- kruskal.test(agree ~ educ3, data = d)
nk <- nrow(cc)
ref$several <- list(f = unname(ow$statistic), df1 = unname(ow$parameter[1]), df2 = unname(ow$parameter[2]),
                    p = ow$p.value, eta2 = ssb / (ssb + ssw),
                    omega2 = (ssb - (k - 1) * msw) / (ssb + ssw + msw),
                    h = unname(kw$statistic), h_df = unname(kw$parameter), h_p = kw$p.value,
                    epsilon2 = unname(kw$statistic) / ((nk^2 - 1) / (nk + 1)), n = nk)

# ---- contingency tables -------------------------------------------------------------------------------
tab <- table(d$gender, d$young)
c1 <- chisq.test(tab)
c0 <- chisq.test(tab, correct = FALSE)
ft <- fisher.test(tab)
tab2 <- table(d$gender, d$educ3)
c2 <- chisq.test(tab2)
ref$crosstab <- list(
  chi2_yates = unname(c1$statistic), p_yates = c1$p.value, chi2 = unname(c0$statistic), p = c0$p.value,
  df = unname(c0$parameter), fisher_p = ft$p.value, fisher_or_conditional = unname(ft$estimate),
  sample_or = (tab[1, 1] * tab[2, 2]) / (tab[1, 2] * tab[2, 1]),
  cramers_v = sqrt(unname(c0$statistic) / (sum(tab) * (min(dim(tab)) - 1))),
  chi2_rxc = unname(c2$statistic), p_rxc = c2$p.value, df_rxc = unname(c2$parameter),
  cramers_v_rxc = sqrt(unname(c2$statistic) / (sum(tab2) * (min(dim(tab2)) - 1))),
  min_expected_rxc = min(c2$expected)
)

# ---- moderation: lm on centred predictors, simple slopes, Johnson-Neyman ------------------------------
hc3 <- function(fit) {
  X <- model.matrix(fit); e <- residuals(fit); h <- hatvalues(fit)
  bread <- solve(crossprod(X))
  bread %*% crossprod(X * (e / (1 - h))) %*% bread
}
moderation_ref <- function(dat, y, x, mo, z = character(0), robust = FALSE) {
  cc <- dat[complete.cases(dat[, c(y, x, mo, z)]), ]
  cc$xc <- cc[[x]] - mean(cc[[x]])
  cc$mc <- cc[[mo]] - mean(cc[[mo]])
  rhs <- paste(c("xc * mc", z), collapse = " + ")
  fit <- lm(as.formula(paste(y, "~", rhs)), data = cc)
  red <- lm(as.formula(paste(y, "~", paste(c("xc + mc", z), collapse = " + "))), data = cc)
  V <- if (robust) hc3(fit) else vcov(fit)
  b <- coef(fit)
  dfr <- fit$df.residual
  se <- sqrt(diag(V))
  ord <- c("(Intercept)", "xc", "mc", "xc:mc", z)
  av <- anova(red, fit)
  sdm <- sd(cc[[mo]])
  at <- c(-sdm, 0, sdm)
  slope <- b["xc"] + b["xc:mc"] * at
  sse <- sqrt(V["xc", "xc"] + 2 * at * V["xc", "xc:mc"] + at^2 * V["xc:mc", "xc:mc"])
  tc <- qt(0.975, dfr)
  qa <- b["xc:mc"]^2 - tc^2 * V["xc:mc", "xc:mc"]
  qb <- 2 * (b["xc"] * b["xc:mc"] - tc^2 * V["xc", "xc:mc"])
  qc <- b["xc"]^2 - tc^2 * V["xc", "xc"]
  disc <- qb^2 - 4 * qa * qc
  roots <- if (disc >= 0) sort((-qb + c(-1, 1) * sqrt(disc)) / (2 * qa)) else numeric(0)
  p_at_roots <- sapply(roots, function(r) {
    s <- sqrt(V["xc", "xc"] + 2 * r * V["xc", "xc:mc"] + r^2 * V["xc:mc", "xc:mc"])
    2 * pt(-abs((b["xc"] + b["xc:mc"] * r) / s), dfr)
  })
  list(y = y, x = x, m = mo, covar = z, hc3 = robust, n = nrow(cc), excluded = nrow(dat) - nrow(cc),
       terms = ord, estimate = unname(b[ord]), se = unname(se[ord]), p = unname(2 * pt(-abs(b[ord] / se[ord]), dfr)),
       r2 = summary(fit)$r.squared, r2_change = summary(fit)$r.squared - summary(red)$r.squared,
       f_change = av$F[2], p_change = av$`Pr(>F)`[2], df_resid = dfr,
       m_values = mean(cc[[mo]]) + at, slopes = unname(slope), slope_se = unname(sse),
       slope_p = unname(2 * pt(-abs(slope / sse), dfr)),
       slope_ci_low = unname(slope - tc * sse), slope_ci_high = unname(slope + tc * sse),
       jn_bounds = unname(roots + mean(cc[[mo]])), jn_p_at_bounds = unname(p_at_roots),
       m_range = range(cc[[mo]]))
}
ref$moderation_mtcars <- moderation_ref(m, "mpg", "hp", "wt")
ref$moderation_mtcars_hc3 <- moderation_ref(m, "mpg", "hp", "wt", robust = TRUE)
ref$moderation_bfi <- moderation_ref(d, "agree", "extra", "neuro", "age")

# ---- p.adjust -----------------------------------------------------------------------------------------
pv <- c(0.01, 0.02, 0.03, 0.04, 0.05, 0.5, 0.001, 0.02, NA, 0.9, 0.0001, 0.049)
adj <- list(p = pv)
for (meth in c("holm", "hochberg", "hommel", "bonferroni", "BH", "BY", "fdr", "none")) adj[[meth]] <- p.adjust(pv, meth)
adj$two <- list(p = c(0.03, 0.04), hommel = p.adjust(c(0.03, 0.04), "hommel"))
ref$p_adjust <- adj

# ---- bootstrap: export R's resamples and replicates; BCa with regression and jackknife influence -------
set.seed(20241124)
cc <- d[complete.cases(d[, c("extra", "agree", "neuro", "consc")]), c("extra", "agree", "neuro", "consc")]
stat_bfi <- function(data, i) {
  s <- data[i, ]
  c(cor(s$extra, s$agree), psych::partial.r(s, c("extra", "agree"), c("neuro", "consc"))[1, 2])
}
bt <- boot(cc, stat_bfi, R = 1000)
idx <- boot.array(bt, indices = TRUE)
write.csv(idx, file.path(data_dir, "battery_boot_bfi_indices.csv"), row.names = FALSE)
write.csv(data.frame(r = sprintf("%.17g", bt$t[, 1]), partial = sprintf("%.17g", bt$t[, 2])),
          file.path(data_dir, "battery_boot_bfi_t.csv"), row.names = FALSE, quote = FALSE)
boot_ci <- function(bo, index, L = NULL) {
  ci <- if (is.null(L)) boot.ci(bo, conf = 0.95, type = c("perc", "bca"), index = index)
        else boot.ci(bo, conf = 0.95, type = c("perc", "bca"), index = index, L = L)
  list(t0 = unname(bo$t0[index]), perc = ci$percent[4:5], bca = ci$bca[4:5])
}
ref$boot_bfi <- list(R = bt$R, n = nrow(cc), excluded = nrow(d) - nrow(cc),
                     r = boot_ci(bt, 1), partial = boot_ci(bt, 2),
                     r_jack = boot_ci(bt, 1, L = empinf(bt, index = 1, type = "jack")),
                     partial_jack = boot_ci(bt, 2, L = empinf(bt, index = 2, type = "jack")))
ref$boot_bfi$r_infl_reg <- empinf(bt, index = 1)

set.seed(7)
stat_grp <- function(data, i) {
  s <- data[i, ]
  y1 <- s$pw[s$am == 0]; y2 <- s$pw[s$am == 1]
  n1 <- length(y1); n2 <- length(y2)
  sp <- sqrt(((n1 - 1) * var(y1) + (n2 - 1) * var(y2)) / (n1 + n2 - 2))
  c(mean(y2) - mean(y1), hedges_j(n1 + n2 - 2) * (mean(y2) - mean(y1)) / sp)
}
bg <- boot(m[, c("pw", "am")], stat_grp, R = 2000, strata = m$am)
write.csv(boot.array(bg, indices = TRUE), file.path(data_dir, "battery_boot_mtcars_indices.csv"),
          row.names = FALSE)
write.csv(data.frame(diff = sprintf("%.17g", bg$t[, 1]), g = sprintf("%.17g", bg$t[, 2])),
          file.path(data_dir, "battery_boot_mtcars_t.csv"), row.names = FALSE, quote = FALSE)
ref$boot_mtcars <- list(R = bg$R, n = nrow(m), diff = boot_ci(bg, 1), g = boot_ci(bg, 2),
                        g_jack = boot_ci(bg, 2, L = empinf(bg, index = 2, type = "jack")))

writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           file.path(out_dir, "battery.json"))
cat("wrote", file.path(out_dir, "battery.json"), "\n")
