/**
 * Spring wiring at the edge: binds and validates {@code broker.*} from
 * {@code application.yml}, builds the plain-Java broker from it, and ties the
 * listener, the backend prober and the demo service into the application's
 * lifecycle (start before traffic, drain on SIGTERM).
 *
 * <p>It owns no protocol logic and no descriptor; everything it creates is
 * replaceable by a user bean ({@code @ConditionalOnMissingBean}).
 */
@NullMarked
package io.handoffbroker.config;

import org.jspecify.annotations.NullMarked;
