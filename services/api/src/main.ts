// Process entry point of the api role: configuration, connections and signals only.
// A bad variable (PV_API_TOKEN missing or shorter than 16 characters included)
// prints `pv-pipeline api: <VARIABLE>: <reason>` and exits 1; SIGTERM/SIGINT
// close the server, the queues and the connection, then exit 0.
import { runServiceMain } from '@pv-pipeline/runtime';
import { startApi } from './start-api.js';

await runServiceMain('api', startApi);
