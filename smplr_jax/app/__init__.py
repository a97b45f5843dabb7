"""The local web app: `service` (uploads checked, one shared predictor,
request folders; no web framework), `ui` (the Gradio page, `serve`),
`harness` (the app driven from outside: its process, headless Chromium,
API clients). `smplr-jax app` starts it; docs/app.md describes it."""
