# Reference values for lacrima.feedback.fit_expected_recovery (expected-recovery curves via lme4).
# Run from the repository root:  Rscript tests/reference/expected_recovery.R
# Writes tests/reference/data/expected_recovery.csv (a simulated archive of PHQ-9 totals) and
# tests/reference/expected_recovery.json (lme4 1.1-x fit of y ~ lt * xc + (1 + lt | client_id)).
suppressPackageStartupMessages({library(lme4); library(jsonlite)})

set.seed(20261203)
n <- 150
rows <- list()
for (i in 1:n) {
  k <- sample(3:8, 1)                       # measurements: session 1 and every 4 sessions after it
  s <- 1 + 4 * (0:(k - 1))
  intake <- min(27, max(3, rnorm(1, 13, 5)))
  delta <- rnorm(1, 0.5, 0.25)
  y <- intake - delta * (intake - 2.91) * log(s) / log(16) + c(0, rnorm(k - 1, 0, 2.5))
  rows[[i]] <- data.frame(client_id = sprintf("c%03d", i), session = s, phq9_total = round(pmin(27, pmax(0, y))))
}
d <- do.call(rbind, rows)
d <- d[sample(nrow(d)), ]                    # rows in no particular order
rownames(d) <- NULL
write.csv(d, "tests/reference/data/expected_recovery.csv", row.names = FALSE)

# intake = each client's first measurement; the model is fitted to the measurements after it
d <- d[order(d$client_id, d$session), ]
first <- d[!duplicated(d$client_id), ]
intake <- setNames(first$phq9_total, first$client_id)
first_session <- setNames(first$session, first$client_id)
post <- d[d$session > first_session[d$client_id], ]
centre <- mean(intake[unique(post$client_id)])
post$lt <- log(post$session)
post$xc <- intake[post$client_id] - centre
fit <- lmer(phq9_total ~ lt * xc + (1 + lt | client_id), data = post, REML = TRUE)
vc <- as.data.frame(VarCorr(fit))
G <- VarCorr(fit)$client_id
sigma2 <- sigma(fit)^2
sessions <- c(2, 5, 9, 13, 21, 29)
i0 <- 18
L <- log(sessions)
mu <- fixef(fit)[1] + fixef(fit)[2] * L + fixef(fit)[3] * (i0 - centre) + fixef(fit)[4] * L * (i0 - centre)
sd <- sqrt(G[1, 1] + 2 * L * G[1, 2] + L^2 * G[2, 2] + sigma2)
out <- list(
  call = "lmer(phq9_total ~ lt * xc + (1 + lt | client_id), data = post, REML = TRUE)",
  lme4 = as.character(packageVersion("lme4")),
  n_clients = length(unique(post$client_id)),
  n_measurements = nrow(post),
  intake_centre = centre,
  intake_sd = sd(intake[unique(post$client_id)]),
  fixef = as.list(fixef(fit)),
  var_intercept = G[1, 1], var_slope = G[2, 2], cov = G[1, 2], residual_var = sigma2,
  band = list(intake = i0, sessions = sessions, expected = as.numeric(mu),
              upper90 = as.numeric(mu + qnorm(0.9) * sd))
)
write_json(out, "tests/reference/expected_recovery.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
