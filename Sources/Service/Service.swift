// The PACS worker without HTTP serving (issue 17): configuration, spool, sources, series settling,
// the job runner and the write-back. The CLI's `serve` wires it to the `Server` target's listener.
