/**
 * Reference point (a): the fastest this machine answers HTTP with uWS from
 * Node — no body read, no routing, one constant reply. Prints its port.
 */
import uWS from '../../node/http/uws.ts';

// A normal exit on SIGTERM, so `node --cpu-prof` writes its profile.
process.on('SIGTERM', () => process.exit(0));

const BODY = '{"hello":"world"}';

uWS
  .App()
  .any('/*', (res) => {
    res.cork(() => {
      res.writeHeader('content-type', 'application/json');
      res.end(BODY);
    });
  })
  .listen('127.0.0.1', Number(process.argv[2] ?? 0), (socket) => {
    if (!socket) throw new Error('uws-hello: cannot listen');
    console.log(`listening ${uWS.us_socket_local_port(socket)}`);
  });
