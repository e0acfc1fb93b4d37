// The PACS worker's HTTP listener (issue 17): STOW-RS, the API, /metrics, health, bearer tokens, TLS.
