"""Package data of smplr_jax: the embedded default body model and the shipped
weights. Installed as `smplr_jax.third_party`; read it through
`smplr_jax.resources`, which finds it in a wheel and in a checkout alike."""
