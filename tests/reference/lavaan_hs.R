# Reference values for lacrima.crosscultural (multi-group CFA and measurement invariance).
# Oracle: lavaan 0.6-14 on lavaan::HolzingerSwineford1939 (the classic 3-factor model).
# Run from the repository root:  Rscript tests/reference/lavaan_hs.R
# Writes tests/reference/lavaan_hs.json and tests/reference/data/holzinger.csv.
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

hs <- lavaan::HolzingerSwineford1939
hs$school <- as.character(hs$school)
# A four-group variable (school x sex) to exercise G > 2 (chained equality constraints, sqrt(G) RMSEA).
hs$school_sex <- paste(hs$school, ifelse(hs$sex == 1, "m", "f"), sep = "_")
write.csv(hs, "tests/reference/data/holzinger.csv", row.names = FALSE, na = "")

model <- "
  visual  =~ x1 + x2 + x3
  textual =~ x4 + x5 + x6
  speed   =~ x7 + x8 + x9
"
model_rescov <- paste(model, "x1 ~~ x4\n x7 ~~ x8\n")

measures <- c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
              "srmr", "srmr_bentler_nomean", "aic", "bic", "logl", "npar", "ntotal",
              "baseline.chisq", "baseline.df")

summarise <- function(fit) {
  pe <- parameterEstimates(fit, standardized = TRUE)
  pe <- pe[pe$op %in% c("=~", "~~", "~1"), ]
  if (is.null(pe$group)) pe$group <- 1L
  pt <- parTable(fit)
  pe <- pe[, c("lhs", "op", "rhs", "group", "est", "se", "z", "pvalue", "ci.lower", "ci.upper",
               "std.all")]
  list(
    fit = as.list(fitMeasures(fit, measures)),
    group_labels = lavInspect(fit, "group.label"),
    nobs = lavInspect(fit, "nobs"),
    estimates = pe
  )
}

# composite reliability per factor and group from lavaan's own estimates:
# (sum lambda)^2 phi / ((sum lambda)^2 phi + sum of the residual (co)variances of the factor's indicators)
omega_from_fit <- function(fit) {
  est <- lavInspect(fit, "est")
  if (!is.null(est$lambda)) est <- list(est)
  out <- list()
  for (g in seq_along(est)) {
    lam <- est[[g]]$lambda
    th <- est[[g]]$theta
    ps <- est[[g]]$psi
    for (f in colnames(lam)) {
      ind <- which(lam[, f] != 0)
      s <- sum(lam[ind, f])
      true_var <- s^2 * ps[f, f]
      err <- sum(th[ind, ind])
      out[[length(out) + 1]] <- data.frame(group = g, factor = f, omega = true_var / (true_var + err))
    }
  }
  do.call(rbind, out)
}

out <- list(lavaan_version = as.character(packageVersion("lavaan")))
fit_single <- cfa(model, data = hs, meanstructure = TRUE)
out$single <- summarise(fit_single)
out$single$omega <- omega_from_fit(fit_single)

out$single_rescov <- summarise(cfa(model_rescov, data = hs, meanstructure = TRUE))

hs_na <- hs
hs_na$x1[1:5] <- NA
hs_na$x9[10] <- NA
out$single_listwise <- summarise(cfa(model, data = hs_na, meanstructure = TRUE))

steps <- list(
  configural = "",
  metric = c("loadings"),
  scalar = c("loadings", "intercepts"),
  strict = c("loadings", "intercepts", "residuals")
)
fits <- list()
for (s in names(steps)) {
  fits[[s]] <- cfa(model, data = hs, group = "school", group.equal = steps[[s]])
  out[[s]] <- summarise(fits[[s]])
}
out$configural$omega <- omega_from_fit(fits$configural)

# Univariate score tests for releasing each equality constraint of the scalar model.
label_of <- function(fit) {
  pt <- parTable(fit)
  function(plabel) {
    i <- match(plabel, pt$plabel)
    data.frame(lhs = pt$lhs[i], op = pt$op[i], rhs = pt$rhs[i], group = pt$group[i])
  }
}
score_table <- function(fit) {
  sc <- lavTestScore(fit)$uni
  lab <- label_of(fit)
  a <- lab(sc$lhs)
  b <- lab(sc$rhs)
  data.frame(lhs = a$lhs, op = a$op, rhs = a$rhs, group_a = a$group, group_b = b$group, X2 = sc$X2)
}
out$scalar_score <- score_table(fits$scalar)
out$strict_score <- score_table(fits$strict)

# Partial scalar invariance as lacrima does it: free the intercept constraint with the largest univariate
# score test, refit, compare with the metric model (Chen 2007: delta CFI >= -0.010 and delta RMSEA <=
# 0.015), repeat until the step holds.
metric_fm <- fitMeasures(fits$metric, c("cfi", "rmsea"))
partial <- list()
freed <- character(0)
current <- fits$scalar
for (i in 1:6) {
  fm <- fitMeasures(current, c("chisq", "df", "cfi", "rmsea"))
  holds <- (fm[["cfi"]] - metric_fm[["cfi"]] >= -0.010) && (fm[["rmsea"]] - metric_fm[["rmsea"]] <= 0.015)
  partial[[i]] <- list(freed = I(freed), chisq = fm[["chisq"]], df = fm[["df"]], cfi = fm[["cfi"]],
                       rmsea = fm[["rmsea"]], holds = holds)
  if (holds) break
  sc <- score_table(current)
  sc <- sc[sc$op == "~1", ]
  best <- sc[which.max(sc$X2), ]
  freed <- c(freed, paste0(best$lhs, "~1"))
  current <- cfa(model, data = hs, group = "school", group.equal = c("loadings", "intercepts"),
                 group.partial = freed)
}
out$partial_scalar <- partial

# Four groups (school x sex): configural, metric and scalar.
for (s in c("configural", "metric", "scalar")) {
  fit <- cfa(model, data = hs, group = "school_sex", group.equal = steps[[s]])
  out[[paste0("g4_", s)]] <- summarise(fit)
}

write_json(out, "tests/reference/lavaan_hs.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
