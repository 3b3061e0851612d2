# The replication battery in R, timed beside `lacrima analyze` by benchmarks/bench_battery.py (not a test).
#
#   Rscript benchmarks/bench_battery.R SPEC.json DATA.csv OUT.json REPORT.html
#
# SPEC.json is written by bench_battery.py from lacrima's own instrument keys and default analysis plan, so
# both programs score the same subscales and test the same hypotheses:
#   scoring      - per subscale: items, reverse-keyed items, scale (lo, hi), mean or sum, min_answered
#   reliability  - per subscale: items and reverse-keyed items (psych::alpha)
#   hypotheses   - id, family, test (correlate / compare_groups / crosstab / moderation), columns, subset
#   n_boot, seed, correction, bootstrap (FALSE: no resampling, as lacrima's bootstrap=False)
# Steps: read the CSV (data.table::fread when installed, else read.csv), score with rowMeans, psych::alpha
# per subscale, then per hypothesis cor.test / psych::partial.r + psych::corr.p / t.test / chisq.test /
# lm, boot::boot + boot.ci(type = "bca") where the plan asks for a bootstrap interval, p.adjust within each
# family, and a plain HTML table of the results. Writes the stage times (seconds) to OUT.json.

t_start <- proc.time()[["elapsed"]]
suppressPackageStartupMessages({
  library(jsonlite)
  library(psych)
  library(boot)
})
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 4) stop("usage: Rscript bench_battery.R SPEC.json DATA.csv OUT.json REPORT.html")
spec <- fromJSON(args[1], simplifyVector = FALSE)
times <- list(load_packages = proc.time()[["elapsed"]] - t_start)
lap <- function(name, t0) times[[name]] <<- proc.time()[["elapsed"]] - t0

t0 <- proc.time()[["elapsed"]]
use_fread <- requireNamespace("data.table", quietly = TRUE)
d <- if (use_fread) {
  as.data.frame(data.table::fread(args[2], showProgress = FALSE))
} else {
  read.csv(args[2])
}
lap("read", t0)

t0 <- proc.time()[["elapsed"]]
for (s in spec$scoring) {
  items <- unlist(s$items)
  x <- as.matrix(d[, items, drop = FALSE])
  rev <- match(unlist(s$reverse), items)
  if (length(rev)) x[, rev] <- s$lo + s$hi - x[, rev]
  answered <- rowSums(!is.na(x))
  need <- if (s$min_answered <= 1) ceiling(s$min_answered * length(items) - 1e-9) else s$min_answered
  score <- rowMeans(x, na.rm = TRUE)
  score[answered < need | answered == 0] <- NA
  if (s$method == "sum") score <- score * length(items)
  d[[s$column]] <- score
}
lap("score", t0)

t0 <- proc.time()[["elapsed"]]
alphas <- list()
for (s in spec$reliability) {
  items <- unlist(s$items)
  x <- as.matrix(d[, items, drop = FALSE])
  rev <- match(unlist(s$reverse), items)
  if (length(rev)) x[, rev] <- s$lo + s$hi - x[, rev]
  x <- x[complete.cases(x), , drop = FALSE]
  a <- suppressWarnings(psych::alpha(x, check.keys = FALSE, warnings = FALSE))
  alphas[[s$column]] <- a$total$raw_alpha
}
lap("reliability", t0)

subset_rows <- function(h) {
  keep <- rep(TRUE, nrow(d))
  for (col in names(h$subset)) keep <- keep & d[[col]] %in% unlist(h$subset[[col]])
  d[keep, , drop = FALSE]
}

pearson <- function(dat, i) cor(dat[i, 1], dat[i, 2])
partial <- function(dat, i) {
  p <- solve(cor(dat[i, , drop = FALSE]))
  -p[1, 2] / sqrt(p[1, 1] * p[2, 2])
}
hedges_g <- function(dat, i) {
  y <- dat$y[i]
  g <- dat$g[i]
  y1 <- y[g == 0]
  y2 <- y[g == 1]
  n1 <- length(y1)
  n2 <- length(y2)
  sp <- sqrt(((n1 - 1) * var(y1) + (n2 - 1) * var(y2)) / (n1 + n2 - 2))
  dfp <- n1 + n2 - 2
  j <- exp(lgamma(dfp / 2) - 0.5 * log(dfp / 2) - lgamma((dfp - 1) / 2))
  j * (mean(y2) - mean(y1)) / sp
}
bca <- function(b) {
  ci <- boot.ci(b, type = "bca")
  ci$bca[4:5]
}

t0 <- proc.time()[["elapsed"]]
tboot <- 0
rows <- list()
for (k in seq_along(spec$hypotheses)) {
  h <- spec$hypotheses[[k]]
  s <- subset_rows(h)
  do_boot <- isTRUE(spec$bootstrap) && isTRUE(h$bootstrap)
  est <- p <- NA_real_
  ci <- c(NA_real_, NA_real_)
  if (h$test == "correlate") {
    covar <- unlist(h$covar)
    cols <- c(h$x, h$y, covar)
    dat <- s[complete.cases(s[, cols]), cols, drop = FALSE]
    if (length(covar)) {
      pr <- psych::partial.r(dat, c(1, 2), seq(3, length(cols)))
      est <- pr[1, 2]
      p <- psych::corr.p(pr, nrow(dat) - length(covar), adjust = "none")$p[1, 2]
    } else {
      ct <- cor.test(dat[[1]], dat[[2]])
      est <- unname(ct$estimate)
      p <- ct$p.value
    }
    if (do_boot) {
      tb <- proc.time()[["elapsed"]]
      set.seed(spec$seed + k - 1)
      b <- boot(as.matrix(dat), if (length(covar)) partial else pearson, R = spec$n_boot)
      ci <- bca(b)
      tboot <- tboot + proc.time()[["elapsed"]] - tb
    }
  } else if (h$test == "compare_groups") {
    grp <- unlist(h$groups)
    s <- s[!is.na(s[[h$dv]]) & s[[h$group]] %in% grp, , drop = FALSE]
    dat <- data.frame(y = s[[h$dv]], g = as.integer(s[[h$group]] == grp[[2]]))
    tt <- t.test(y ~ g, data = dat)
    p <- tt$p.value
    est <- hedges_g(dat, seq_len(nrow(dat)))
    if (do_boot) {
      tb <- proc.time()[["elapsed"]]
      set.seed(spec$seed + k - 1)
      b <- boot(dat, hedges_g, R = spec$n_boot, strata = dat$g)
      ci <- bca(b)
      tboot <- tboot + proc.time()[["elapsed"]] - tb
    }
  } else if (h$test == "crosstab") {
    for (col in names(h$levels)) s <- s[s[[col]] %in% unlist(h$levels[[col]]), , drop = FALSE]
    tab <- table(s[[h$a]], s[[h$b]])
    p <- suppressWarnings(chisq.test(tab))$p.value
    fp <- fisher.test(tab)$p.value
    est <- (tab[1, 1] * tab[2, 2]) / (tab[1, 2] * tab[2, 1])
  } else if (h$test == "moderation") {
    fit <- lm(as.formula(sprintf("%s ~ %s * %s", h$y, h$x, h$m)), data = s)
    co <- summary(fit)$coefficients
    est <- co[4, 1]
    p <- co[4, 4]
    ci <- confint(fit)[4, ]
  }
  rows[[k]] <- data.frame(id = h$id, family = h$family, estimate = unname(est), p = unname(p),
                          ci_low = unname(ci[1]), ci_high = unname(ci[2]), row.names = NULL)
}
res <- do.call(rbind, rows)
res$p_adjusted <- ave(res$p, res$family, FUN = function(v) p.adjust(v, method = spec$correction))
times$hypotheses <- proc.time()[["elapsed"]] - t0 - tboot
times$bootstrap <- tboot

t0 <- proc.time()[["elapsed"]]
cells <- apply(format(res, digits = 3), 1, function(r) paste0("<td>", r, "</td>", collapse = ""))
html <- c("<!DOCTYPE html><html><head><meta charset='utf-8'><title>battery</title></head><body>",
          "<table><tr>", paste0("<th>", names(res), "</th>", collapse = ""), "</tr>",
          paste0("<tr>", cells, "</tr>"), "</table></body></html>")
writeLines(html, args[4])
lap("report", t0)

times$total_inside <- proc.time()[["elapsed"]] - t_start
out <- list(reader = if (use_fread) "data.table::fread" else "read.csv", n = nrow(d), times = times,
            results = res, alpha = alphas)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null"), args[3])
