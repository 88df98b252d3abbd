// Entry point of a decoding worker thread (lib/data/decode-pool.ts starts it).
import { parentPort } from 'node:worker_threads';

import { serveRequests } from './decode-pool';

if (parentPort) serveRequests(parentPort);
