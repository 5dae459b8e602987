// Every benchmark, in turn. Benchmarks print times and ratios against peer tools measured in the same run.
await import('./discovery.js');
await import('./credentials.js');
await import('./tls.js');
