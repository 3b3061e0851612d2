# Reference values for tests/longitudinal/test_long_plan_reference.py (lacrima.longitudinal.plan).
# Simulates a small session table, writes it to data/long_plan.csv, derives the plan's variables in base R
# and fits model L2 with lme4/lmerTest and the crying-by-attachment-style GLMM with glmer; the predicted
# probability bands come from vcov(fit) by the delta method. Run: Rscript tests/reference/long_plan.R
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})
here <- dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))))
set.seed(20261125)

n_clients <- 120
n_sessions <- sample(6:12, n_clients, replace = TRUE)
therapist <- sprintf("t%02d", sample(1:8, n_clients, replace = TRUE))
anx <- pmin(pmax(rnorm(n_clients, 3.6, 1.1), 1), 7)
avo <- pmin(pmax(rnorm(n_clients, 3.0, 1.0), 1), 7)
style <- c("secure", "anxious_preoccupied", "avoidant_dismissing", "fearful")[1 + (anx > 4) + 2 * (avo > 4)]
u_cry <- rnorm(n_clients, 0, 0.8)
b0 <- rnorm(n_clients, 0, 0.5)
b1 <- rnorm(n_clients, 0, 0.03)
t0 <- setNames(rnorm(8, 0, 0.25), sprintf("t%02d", 1:8))
rows <- list()
for (i in seq_len(n_clients)) {
  s <- seq_len(n_sessions[i])
  cried <- rbinom(length(s), 1, plogis(-1.6 + 0.35 * (anx[i] - 4) - 0.3 * (avo[i] - 4) + u_cry[i]))
  prev <- c(0, head(cried, -1))
  alliance <- 4.5 + 0.03 * (s - 1) + 0.15 * prev + t0[therapist[i]] + b0[i] + b1[i] * (s - 1) +
    rnorm(length(s), 0, 0.5)
  rows[[i]] <- data.frame(client_id = sprintf("c%03d", i), therapist_id = therapist[i], session = s,
                          cried = cried, alliance = unname(alliance), attachment_style = style[i])
}
d <- do.call(rbind, rows)
# two skipped sessions: their successors get no lag (crying at t-1 must be session t-1 exactly)
d <- d[!(d$client_id == "c001" & d$session == 3) & !(d$client_id == "c002" & d$session == 2), ]
write.csv(d, file.path(here, "data", "long_plan.csv"), row.names = FALSE)

# the plan's derived variables
d$session_c <- (d$session - min(d$session)) / 10
key <- paste(d$client_id, d$session)
d$cried_lag1 <- d$cried[match(paste(d$client_id, d$session - 1), key)]

l2 <- lmer(alliance ~ cried_lag1 + session_c + (1 + session_c | client_id) + (1 | therapist_id), data = d,
           REML = TRUE)
co <- summary(l2)$coefficients
vc <- as.data.frame(VarCorr(l2))

# crying by attachment style: styles of fewer than 10 clients are left out
per_style <- tapply(d$client_id, d$attachment_style, function(x) length(unique(x)))
keep <- names(per_style)[per_style >= 10]
ds <- d[d$attachment_style %in% keep, ]
ds$attachment_style <- factor(ds$attachment_style,
                              levels = intersect(c("secure", "anxious_preoccupied", "avoidant_dismissing",
                                                   "fearful"), keep))
ds$t <- ds$session_c
g <- glmer(cried ~ 0 + attachment_style + attachment_style:t + (1 | client_id), data = ds, family = binomial,
           control = glmerControl(tolPwrss = 1e-12))
last <- quantile(tapply(ds$session, ds$client_id, max), 0.9, type = 7)
grid <- seq(min(d$session), max(last, min(d$session)))
beta <- fixef(g)
V <- as.matrix(vcov(g))
bands <- list()
for (lev in levels(ds$attachment_style)) {
  a <- paste0("attachment_style", lev)
  b <- paste0("attachment_style", lev, ":t")
  tt <- (grid - min(d$session)) / 10
  eta <- beta[a] + beta[b] * tt
  se <- sqrt(V[a, a] + 2 * tt * V[a, b] + tt^2 * V[b, b])
  bands[[lev]] <- list(session = grid, p = unname(plogis(eta)), ci_low = unname(plogis(eta - qnorm(0.975) * se)),
                       ci_high = unname(plogis(eta + qnorm(0.975) * se)))
}

out <- list(
  l2 = list(term = rownames(co), estimate = unname(co[, "Estimate"]), se = unname(co[, "Std. Error"]),
            df = unname(co[, "df"]), p = unname(co[, "Pr(>|t|)"]), vcov = vc$vcov, nobs = nobs(l2)),
  styles_kept = keep,
  bands = bands,
  r_version = R.version.string, lme4 = as.character(packageVersion("lme4"))
)
write_json(out, file.path(here, "long_plan.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
