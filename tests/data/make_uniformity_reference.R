# Reference values for tests/uniformity.rs, computed with the R package sphunif
# (https://github.com/egarpor/sphunif, GPL-3; only its outputs are stored here).
#
# Usage: Rscript make_uniformity_reference.R > uniformity_reference.json
# Needs R with sphunif (and its dependency CompQuadForm for the Imhof p-values).
#
# For every data set and test: the statistic (unif_stat) and the asymptotic
# p-value 1 - unif_stat_distr(..., approx = "asymp", method = "I"). Also the
# first Sobolev weights v_k^2 of each test (weights_dfs_Sobolev, thre = 0).

suppressMessages(library(sphunif))

num <- function(x) sprintf("%.17g", x)
vec <- function(x) paste0("[", paste(num(x), collapse = ", "), "]")
mat <- function(X) paste0("[", paste(apply(X, 1, vec), collapse = ",\n      "), "]")

normalise <- function(X) X / sqrt(rowSums(X^2))

# Data sets: uniform samples and concentrated ones, d = 2..10.
set.seed(20240607)
unif <- function(n, d) normalise(matrix(rnorm(n * d), n, d))
conc <- function(n, d, k) {
  mu <- c(1, rep(0, d - 1))
  normalise(matrix(rnorm(n * d), n, d) + k * matrix(mu, n, d, byrow = TRUE))
}
bimodal <- function(n, d, k) {
  X <- conc(n, d, k)
  X * sample(c(-1, 1), n, replace = TRUE)
}
sets <- list(
  list(name = "spec5", X = normalise(rbind(c(1, 0, 0), c(0, 1, 0), c(0, 0, 1),
                                            c(1, 1, 1), c(-1, 2, 0.5)))),
  list(name = "unif_d2_n15", X = unif(15, 2)),
  list(name = "conc_d2_n20", X = conc(20, 2, 0.8)),
  list(name = "unif_d3_n20", X = unif(20, 3)),
  list(name = "conc_d3_n25", X = conc(25, 3, 0.7)),
  list(name = "unif_d4_n20", X = unif(20, 4)),
  list(name = "unif_d5_n30", X = unif(30, 5)),
  list(name = "conc_d5_n20", X = conc(20, 5, 0.8)),
  list(name = "unif_d7_n25", X = unif(25, 7)),
  list(name = "bimodal_d10_n30", X = bimodal(30, 10, 2)),
  list(name = "unif_d10_n40", X = unif(40, 10))
)

# Tests: sphunif name, our name, parameter name and value.
tests <- list(
  list("Rayleigh", "rayleigh", NULL, NA),
  list("Bingham", "bingham", NULL, NA),
  list("Ajne", "ajne", NULL, NA),
  list("Gine_Gn", "gine_gn", NULL, NA),
  list("Gine_Fn", "gine_fn", NULL, NA),
  list("Bakshaev", "bakshaev", NULL, NA),
  list("Riesz", "riesz", "Riesz_s", 0.5),
  list("Riesz", "riesz", "Riesz_s", 1.5),
  list("PCvM", "pcvm", NULL, NA),
  list("PAD", "pad", NULL, NA),
  list("PRt", "prt", "Rothman_t", 1 / 3),
  list("PRt", "prt", "Rothman_t", 0.2),
  list("Poisson", "poisson", "Poisson_rho", 0.5),
  list("Poisson", "poisson", "Poisson_rho", 0.8),
  list("Softmax", "softmax", "Softmax_kappa", 1),
  list("Softmax", "softmax", "Softmax_kappa", 4),
  list("Sobolev", "sobolev", "Sobolev_vk2", c(1, 0.5, 0.25)),
  list("Sobolev", "sobolev", "Sobolev_vk2", c(0, 0, 1, 0.3))
)

args_for <- function(t) {
  a <- list()
  if (!is.null(t[[3]])) a[[t[[3]]]] <- t[[4]]
  a
}

# A tighter asymptotic p-value: 5000 Sobolev terms, the mean of the neglected
# terms (psi(1) minus the kept means) added back, and CompQuadForm::imhof at
# 1e-11. sphunif's own p-values truncate the series without the mean correction,
# which for the slowly converging series (Ajne, Gine, Riesz, PRt) shifts them by
# up to ~1e-5.
psi1 <- function(t, d) {
  s <- if (identical(t[[3]], "Riesz_s")) t[[4]] else 1
  switch(t[[1]],
         Ajne = 1 / 4, Gine_Gn = 1 / 2, Gine_Fn = 3 / 2, PCvM = 1 / 6, PAD = 1,
         PRt = { tm <- min(t[[4]], 1 - t[[4]]); tm * (1 - tm) },
         Bakshaev = , Riesz = 2^(s + d - 2) * beta((d - 1 + s) / 2, (d - 1) / 2) /
           beta(1 / 2, (d - 1) / 2),
         Poisson = 1 - (1 - t[[4]])^(d - 1) / (1 + t[[4]]),
         Softmax = 1 - exp(lgamma(d / 2) + (d / 2 - 1) * log(2 / t[[4]]) +
                             log(besselI(t[[4]], d / 2 - 1, TRUE))))
}
tight_p_value <- function(stat, t, d) {
  if (t[[1]] == "Rayleigh") return(pchisq(stat, d, lower.tail = FALSE))
  if (t[[1]] == "Bingham") return(pchisq(stat, (d + 2) * (d - 1) / 2, lower.tail = FALSE))
  if (t[[1]] == "Sobolev") {
    w <- weights_dfs_Sobolev(p = d, K_max = length(t[[4]]), thre = 0, type = "Sobolev",
                             Sobolev_vk2 = t[[4]], verbose = FALSE)
    i <- w$weights > 0
    return(CompQuadForm::imhof(stat, w$weights[i], w$dfs[i], epsabs = 1e-11,
                               epsrel = 1e-11, limit = 1e6)$Qq)
  }
  a <- args_for(t)
  w <- suppressWarnings(suppressMessages(do.call(weights_dfs_Sobolev,
    c(list(p = d, K_max = 5000, thre = 0, type = t[[1]], verbose = FALSE), a))))
  i <- w$weights > 0 & w$weights * w$dfs > 1e-300
  m <- psi1(t, d)
  # U-statistics (Poisson, softmax) are V-statistics minus psi(1).
  q <- if (t[[1]] %in% c("Poisson", "Softmax")) stat + m else stat
  q <- q - (m - sum(w$weights[i] * w$dfs[i]))
  CompQuadForm::imhof(q, w$weights[i], w$dfs[i], epsabs = 1e-11, epsrel = 1e-11,
                      limit = 1e6)$Qq
}

# For the projected-ecdf tests in d >= 3, sphunif's statistic interpolates the
# kernel linearly on a grid of 1000 angles wherever it has no closed form; this
# recomputes the statistic with sphunif's kernel psi_Pn evaluated by adaptive
# quadrature (integrate, tolerance 1e-13) at every pair.
exact_kernel_statistic <- function(X, t) {
  if (!(t[[1]] %in% c("PCvM", "PAD", "PRt")) || ncol(X) < 3) return(NA)
  n <- nrow(X)
  d <- ncol(X)
  G <- pmin(pmax(tcrossprod(X), -1), 1)
  theta <- acos(G[upper.tri(G)])
  rt <- if (t[[1]] == "PRt") t[[4]] else 1 / 3
  # Per angle; where integrate() fails (a non-finite integrand value at an
  # endpoint), Gauss-Legendre with 5120 nodes instead.
  psi1 <- function(th) tryCatch(
    psi_Pn(theta = th, q = d - 1, type = t[[1]], Rothman_t = rt, tilde = TRUE,
           psi_Gauss = FALSE, tol = 1e-13),
    error = function(e) psi_Pn(theta = th, q = d - 1, type = t[[1]], Rothman_t = rt,
                               tilde = TRUE, psi_Gauss = TRUE, psi_N = 5120))
  psi <- function(th) {
    if (t[[1]] == "PRt") {
      # Vectorised: psi_Pn integrates only the angles below the cut-off.
      psi_Pn(theta = th, q = d - 1, type = "PRt", Rothman_t = rt, tilde = TRUE,
             psi_Gauss = FALSE, tol = 1e-13)
    } else {
      vapply(th, psi1, numeric(1))
    }
  }
  (n * psi(0) + 2 * sum(psi(theta))) / n
}

cat("{\n  \"source\": \"sphunif ", as.character(packageVersion("sphunif")),
    " via make_uniformity_reference.R\",\n  \"cases\": [\n", sep = "")
first <- TRUE
for (s in sets) {
  X <- s$X
  n <- nrow(X)
  d <- ncol(X)
  for (t in tests) {
    a <- args_for(t)
    stat <- do.call(unif_stat, c(list(data = array(X, c(n, d, 1)), type = t[[1]]), a))
    stat <- as.numeric(stat[1, 1])
    cdf <- suppressMessages(do.call(unif_stat_distr,
      c(list(x = stat, type = t[[1]], p = d, n = n, approx = "asymp",
             method = "I", K_max = 1e4), a)))
    pval <- 1 - as.numeric(cdf[1, 1])
    tight <- tight_p_value(stat, t, d)
    exact <- exact_kernel_statistic(X, t)
    if (!first) cat(",\n")
    first <- FALSE
    cat("    {\"data\": \"", s$name, "\", \"d\": ", d, ", \"n\": ", n,
        ", \"test\": \"", t[[2]], "\", \"param\": ",
        if (is.null(t[[3]])) "null" else vec(t[[4]]),
        ", \"statistic\": ", num(stat), ", \"p_value\": ", num(pval),
        ", \"p_value_tight\": ", num(tight),
        if (is.na(exact)) "" else paste0(", \"statistic_exact_kernel\": ", num(exact)),
        "}", sep = "")
  }
}
cat("\n  ],\n  \"weights\": [\n")
first <- TRUE
for (d in c(2, 3, 4, 5, 10)) {
  for (t in tests) {
    if (t[[1]] %in% c("Rayleigh", "Bingham", "Sobolev")) next
    a <- args_for(t)
    w <- suppressMessages(do.call(weights_dfs_Sobolev,
      c(list(p = d, K_max = 12, thre = 0, type = t[[1]], verbose = FALSE), a)))$weights
    if (!first) cat(",\n")
    first <- FALSE
    cat("    {\"d\": ", d, ", \"test\": \"", t[[2]], "\", \"param\": ",
        if (is.null(t[[3]])) "null" else vec(t[[4]]),
        ", \"vk2\": ", vec(w), "}", sep = "")
  }
}
cat("\n  ],\n  \"data\": {\n")
first <- TRUE
for (s in sets) {
  if (!first) cat(",\n")
  first <- FALSE
  cat("    \"", s$name, "\": ", mat(s$X), sep = "")
}
cat("\n  }\n}\n")
