# glmer on completely separated outcomes, for tests/longitudinal/test_engine_glmm.py (lme4 1.1-31).
# Run from the repository root:  Rscript tests/reference/glmer_engine_separation.R
# Writes tests/reference/glmer_engine_separation.json and tests/reference/data/glmer_complete_separation.csv.
# y = 1 exactly when x > 0: the logistic slope has no finite estimate. glmer stops with an error (PIRLS
# cannot converge) at its default control and at the tight one of glmer_engine.R; its GLM analogue warns
# "fitted probabilities numerically 0 or 1 occurred".
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
set.seed(1)
d <- data.frame(g = rep(1:40, each = 5), x = round(rnorm(200), 4))
d$y <- as.integer(d$x > 0)
write.csv(d, "tests/reference/data/glmer_complete_separation.csv", row.names = FALSE)
catch <- function(expr) {
  warns <- character(0)
  err <- tryCatch(withCallingHandlers(expr, warning = function(w) {
    warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning")
  }), error = function(e) conditionMessage(e))
  list(error = if (is.character(err)) err else NULL, warnings = I(warns))
}
out <- list(
  formula = "y ~ x + (1 | g)", data = "glmer_complete_separation",
  default = catch(glmer(y ~ x + (1 | g), d, family = binomial)),
  tight = catch(glmer(y ~ x + (1 | g), d, family = binomial, control = glmerControl(tolPwrss = 1e-12))),
  glm = catch(glm(y ~ x, d, family = binomial))
)
write_json(out, "tests/reference/glmer_engine_separation.json", auto_unbox = TRUE, pretty = TRUE, null = "null")
