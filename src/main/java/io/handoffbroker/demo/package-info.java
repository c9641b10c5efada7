/**
 * The built-in demo: an echo backend the broker runs in-process when
 * {@code broker.demo.enabled} is true (the default), and the command-line client
 * ({@code demo-client}) that sends a Hello and an echo through the broker and
 * prints the route and the round-trip time. Built only on the SDKs, as a real
 * backend and client would be.
 */
@NullMarked
package io.handoffbroker.demo;

import org.jspecify.annotations.NullMarked;
