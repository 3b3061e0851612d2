# Reference values for lacrima.longitudinal.sessions (session-data helpers and archive summaries).
# Run from the repository root:  Rscript tests/reference/sessions.R
# Writes tests/reference/data/sessions_small.csv (the data) and tests/reference/sessions.json (base R only).
suppressPackageStartupMessages(library(jsonlite))

set.seed(20261125)
clients <- sprintf("c%02d", 1:12)
rows <- list()
for (i in seq_along(clients)) {
  n <- sample(6:14, 1)
  s <- sort(sample(1:(n + 3), n))            # some clients skip sessions
  rows[[i]] <- data.frame(client_id = clients[i], therapist_id = sprintf("t%d", (i - 1) %% 3 + 1),
                          session = s, stringsAsFactors = FALSE)
}
d <- do.call(rbind, rows)
p_client <- plogis(rnorm(length(clients), -1, 1))
names(p_client) <- clients
d$cried <- rbinom(nrow(d), 1, p_client[d$client_id])
d$alliance <- round(4.5 + 0.05 * d$session + rnorm(nrow(d), 0, 0.7), 3)
d$cried[sample(nrow(d), 4)] <- NA
d$alliance[sample(nrow(d), 5)] <- NA
d <- d[sample(nrow(d)), ]                    # rows in no particular order
rownames(d) <- NULL
write.csv(d, "tests/reference/data/sessions_small.csv", row.names = FALSE, na = "")

# Wilson score interval: prop.test without continuity correction
wilson <- function(x, n, level = 0.95) { # small counts: prop.test warns about the chi-square test, not the interval
  as.numeric(suppressWarnings(prop.test(x, n, conf.level = level, correct = FALSE))$conf.int)
}
cases <- data.frame(x = c(0, 1, 5, 17, 40, 99, 100), n = c(10, 1, 20, 60, 40, 100, 250))
cases$ci_low <- NA
cases$ci_high <- NA
for (i in seq_len(nrow(cases))) {
  ci <- wilson(cases$x[i], cases$n[i])
  cases$ci_low[i] <- ci[1]
  cases$ci_high[i] <- ci[2]
}
ci90 <- wilson(17, 60, 0.90)

# within/between decomposition of alliance
key <- paste(d$client_id, d$session)
pm <- ave(d$alliance, d$client_id, FUN = function(v) mean(v, na.rm = TRUE))
person_means <- tapply(d$alliance, d$client_id, mean, na.rm = TRUE)
decomp <- data.frame(
  client_id = d$client_id, session = d$session,
  alliance_pm = pm, alliance_cwc = d$alliance - pm,
  pmc_persons = pm - mean(person_means),
  pmc_observations = pm - mean(d$alliance, na.rm = TRUE)
)

# lags: value at session t - k of the same client (NA when that session is absent)
lag_exact <- function(x, k) x[match(paste(d$client_id, d$session - k), key)]
ord <- order(d$client_id, d$session)
prev_recorded <- rep(NA_real_, nrow(d))
for (cl in unique(d$client_id)) {
  idx <- ord[d$client_id[ord] == cl]
  if (length(idx) > 1) prev_recorded[idx[-1]] <- d$cried[idx[-length(idx)]]
}
lags <- data.frame(
  client_id = d$client_id, session = d$session,
  cried_lag1 = lag_exact(d$cried, 1), alliance_lag1 = lag_exact(d$alliance, 1),
  alliance_lag2 = lag_exact(d$alliance, 2), cried_prev_recorded = prev_recorded
)

# crying episodes per client; a run needs consecutive session numbers with cried == 1
ep <- do.call(rbind, lapply(unique(d$client_id), function(cl) {
  x <- d[d$client_id == cl, ]
  x <- x[order(x$session), ]
  yes <- !is.na(x$cried) & x$cried == 1
  brk <- c(TRUE, diff(x$session) != 1)
  run_id <- cumsum(brk | !yes | !c(FALSE, head(yes, -1)))
  runs <- if (any(yes)) max(table(run_id[yes])) else 0
  data.frame(
    client_id = cl, n_sessions = nrow(x), n_observed = sum(!is.na(x$cried)), n_cried = sum(yes),
    rate = sum(yes) / sum(!is.na(x$cried)),
    first_cry_session = if (any(yes)) min(x$session[yes]) else NA,
    longest_run = as.numeric(runs),
    sessions_since_last_cry = if (any(yes)) max(x$session) - max(x$session[yes]) else NA
  )
}))
cum <- rep(NA_real_, nrow(d))
for (cl in unique(d$client_id)) {
  idx <- ord[d$client_id[ord] == cl]
  cum[idx] <- cumsum(ifelse(is.na(d$cried[idx]), 0, d$cried[idx]))
}

# per-session prevalence (Wilson) and alliance mean / sd
ss <- sort(unique(d$session))
summ <- do.call(rbind, lapply(ss, function(s) {
  x <- d[d$session == s, ]
  obs <- x$cried[!is.na(x$cried)]
  ci <- if (length(obs)) wilson(sum(obs), length(obs)) else c(NA, NA)
  a <- x$alliance[!is.na(x$alliance)]
  data.frame(session = s, n = length(obs), n_cried = sum(obs), prevalence = mean(obs),
             ci_low = ci[1], ci_high = ci[2], alliance_n = length(a),
             alliance_mean = if (length(a)) mean(a) else NA, alliance_sd = if (length(a) > 1) sd(a) else NA)
}))

out <- list(
  r_version = R.version.string,
  wilson = cases, wilson_90 = list(x = 17, n = 60, ci_low = ci90[1], ci_high = ci90[2]),
  decompose = decomp, lags = lags, episodes = ep, cumulative_cries = cum, summary = summ
)
write_json(out, "tests/reference/sessions.json", digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE)
