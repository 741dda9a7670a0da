/**
 * The lean HTTP/2 layer for HBONE (RFC 9113 subset + RFC 7541): what the HBONE client and server
 * use in place of node:http2. A client connection opens CONNECT streams with `request(headers)`;
 * a server connection hands each request to `onStream(headers, stream, respond)`. Streams are
 * node:stream Duplexes. Everything else in this directory is an implementation detail.
 */
export { DEFAULT_H2_OPTIONS, H2ClientConnection, H2Connection, H2ServerConnection, type H2Options, type H2Response, type H2ServerOptions, type OnStream, type RequestOptions } from "./connection.ts";
export { H2Code, H2Error, h2CodeName } from "./errors.ts";
export { H2Stream, type H2Headers } from "./stream.ts";
