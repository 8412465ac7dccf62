// Worker threads do not inherit the TypeScript loader registered in the main
// thread: register tsx here, then load the TypeScript worker module.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./decode-worker.ts');
export default mod.default;
