/**
 * The plugin API: everything a waypoint filter plugin may import, and nothing else (a lint rule
 * keeps plugins/** to this file). See docs/plugins.md for the contract and a worked example.
 */
export type { Filter, Next, Plugin } from "./plugin.ts";
export { definePlugin } from "./plugin.ts";
export { RequestContext, createContextKey } from "./context.ts";
export type { BackendRef, ConnectionInfo, ContextKey, Destination, HttpRequest, HttpResponse, MatchedRoute, Peer, RequestAuth, RequestContextInit, RespondInit, RetryPolicy, UpstreamSelection } from "./context.ts";
export { createHeaders } from "./headers.ts";
export type { HeaderInit, HeaderMap } from "./headers.ts";
export { bodyOf, bufferBody, bufferText } from "./body.ts";
export type { HasBody } from "./body.ts";
export { compose } from "./compose.ts";
export type { Chain, ChainEntry, FailurePolicy, Terminal } from "./compose.ts";
export { buildChain } from "./chain.ts";
export type { BuiltChain, ChainSpec } from "./chain.ts";
export { PluginConfigError } from "./errors.ts";
export type { ConfigRefusal } from "./errors.ts";
export { at, readArray, readBoolean, readEnum, readInt, readNumber, readObject, readOptional, readRegExp, readString } from "./config-read.ts";
export type { ConfigObject } from "./config-read.ts";
export { readDuration } from "./duration.ts";
export { recordingHost, seededRandom, steppingClock, systemClock } from "./host.ts";
export type { Clock, LogFields, MetricLabels, PluginCounter, PluginFetch, PluginHistogram, PluginHost, PluginLogger, PluginMetrics, RecordedLine } from "./host.ts";
export { isJwsAlgorithm, JWS_ALGORITHMS, keyFitsAlgorithm, verifyJwsSignature } from "./jwt.ts";
export type { JwsAlgorithm } from "./jwt.ts";
