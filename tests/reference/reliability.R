# Reference values for lacrima.scoring.reliability.
#
# Run from the repository root:  Rscript tests/reference/reliability.R
# Writes tests/reference/data/bfi_items.csv (the psych::bfi items used, NA kept) and
# tests/reference/reliability.json (full precision). Checked with R 4.2.2, psych 2.2.9, lavaan 0.6-14.
suppressPackageStartupMessages({
  library(psych)
  library(lavaan)
  library(jsonlite)
})

data(bfi, package = "psych")
items <- bfi[, c(paste0("A", 1:5), paste0("N", 1:5))]
write.csv(items, "tests/reference/data/bfi_items.csv", row.names = FALSE, na = "")

one_case <- function(raw, reverse) {
  # lacrima uses complete cases; so does every call here (na.omit before psych/lavaan).
  x <- na.omit(raw)
  n_excluded <- nrow(raw) - nrow(x)
  for (col in reverse) x[[col]] <- 1 + 6 - x[[col]]   # bfi items run 1-6
  a <- psych::alpha(x, check.keys = FALSE)
  ci <- psych::alpha.ci(a$total$raw_alpha, n.obs = nrow(x), n.var = ncol(x), p.val = 0.05)
  model <- paste("f =~", paste(names(x), collapse = " + "))
  fit <- lavaan::cfa(model, data = x, std.lv = TRUE, estimator = "ML")
  pe <- lavaan::parameterEstimates(fit)
  lambda <- pe$est[pe$op == "=~"]
  theta <- pe$est[pe$op == "~~" & pe$lhs == pe$rhs & pe$lhs != "f"]
  omega_lavaan <- sum(lambda)^2 / (sum(lambda)^2 + sum(theta))
  om_ml <- suppressWarnings(suppressMessages(
    psych::omega(x, nfactors = 1, fm = "ml", plot = FALSE)))
  om_minres <- suppressWarnings(suppressMessages(
    psych::omega(x, nfactors = 1, plot = FALSE)))
  list(
    columns = names(raw),
    reverse = I(reverse),
    rows = nrow(raw),
    n = nrow(x),
    n_excluded = n_excluded,
    raw_alpha = a$total$raw_alpha,
    std_alpha = a$total$std.alpha,
    feldt_low = a$feldt$lower.ci$raw_alpha,
    feldt_high = a$feldt$upper.ci$raw_alpha,
    alpha_ci_low = ci$lower.ci,
    alpha_ci_high = ci$upper.ci,
    r_drop = unname(a$item.stats$r.drop),
    alpha_if_dropped = unname(a$alpha.drop$raw_alpha),
    std_alpha_if_dropped = unname(a$alpha.drop$std.alpha),
    item_mean = unname(a$item.stats$mean),
    item_sd = unname(a$item.stats$sd),
    lavaan_loadings = lambda,
    lavaan_residuals = theta,
    lavaan_fmin = unname(lavaan::fitMeasures(fit, "fmin")),
    lavaan_chisq = unname(lavaan::fitMeasures(fit, "chisq")),
    omega_lavaan = omega_lavaan,
    psych_omega_ml_tot = om_ml$omega.tot,
    psych_omega_minres_tot = om_minres$omega.tot
  )
}

agree <- items[, paste0("A", 1:5)]
neuro <- items[, paste0("N", 1:5)]
out <- list(
  meta = list(
    r = R.version.string,
    psych = as.character(packageVersion("psych")),
    lavaan = as.character(packageVersion("lavaan")),
    note = paste("psych::alpha on complete cases; Feldt CI from psych::alpha()$feldt and psych::alpha.ci;",
                 "omega_lavaan = (sum lambda)^2 / ((sum lambda)^2 + sum theta) from lavaan::cfa(std.lv=TRUE, ML)")
  ),
  agreeableness = one_case(agree, reverse = "A1"),
  neuroticism = one_case(neuro, reverse = character(0)),
  # the first 120 rows only: a small sample, where CI width and the factor fit matter more
  agreeableness_small = one_case(agree[1:120, ], reverse = "A1")
)
write_json(out, "tests/reference/reliability.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
