package io.handoffbroker.config;

import java.beans.PropertyDescriptor;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.BeanUtils;
import org.springframework.boot.context.properties.bind.DataObjectPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;

/**
 * Every {@code broker.*} key the broker binds, read off {@link BrokerProperties} as Spring Boot
 * binds it (kebab-case names, list elements as {@code name[]}), for the unknown-key check to say
 * which known key a misspelt one was probably meant as.
 */
final class KnownBrokerKeys {

    private static final Pattern INDEX = Pattern.compile("\\[\\d+]");
    private static final Set<String> KEYS = collect("broker", BrokerProperties.class, new TreeSet<>());
    // The lists among them, each as shapeOf gives it (the list itself, without its element's []).
    private static final Set<String> LISTS = lists();

    private KnownBrokerKeys() {
    }

    static Set<String> all() {
        return Collections.unmodifiableSet(KEYS);
    }

    /**
     * Whether {@code key} is a broker setting of one value: given twice on the command line, Spring
     * Boot joins the two values with a comma into one that neither meant. Not a list of values
     * ({@code broker.peer.allowed-uids}: joined, the two are one list, as meant), and not a key of
     * Spring Boot's own ({@code spring.profiles.active} given twice activates both profiles). In
     * any of Spring Boot's relaxed spellings ({@code broker.socketPath} is {@code broker.socket-path}).
     */
    static boolean isBrokerSettingOfOneValue(ConfigurationPropertyName key) {
        return key.getNumberOfElements() > 0 && key.getElement(0, ConfigurationPropertyName.Form.UNIFORM)
                .equals("broker") && !LISTS.contains(shapeOf(key));
    }

    // The key's elements in Spring Boot's uniform form (lower case, no dashes), each index as [].
    private static String shapeOf(ConfigurationPropertyName key) {
        StringBuilder shape = new StringBuilder();
        for (int i = 0; i < key.getNumberOfElements(); i++) {
            if (key.isNumericIndex(i)) {
                shape.append("[]");
            } else {
                shape.append(i == 0 ? "" : ".").append(key.getElement(i, ConfigurationPropertyName.Form.UNIFORM));
            }
        }
        return shape.toString();
    }

    private static Set<String> lists() {
        Set<String> lists = new TreeSet<>();
        for (String key : KEYS) {
            if (key.endsWith("[]")) {
                String list = key.substring(0, key.length() - 2).replace("[]", "[0]");
                lists.add(shapeOf(ConfigurationPropertyName.of(list)));
            }
        }
        return lists;
    }

    /**
     * The known key closest to {@code unknown}, with {@code unknown}'s list indexes, when it is
     * close enough to be a slip of the keyboard (at most 2 edits, or a sixth of its length for a
     * long key); else null.
     */
    static @Nullable String closestTo(String unknown) {
        String shape = INDEX.matcher(unknown).replaceAll("[]");
        int allowed = Math.max(2, shape.length() / 6);
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String key : KEYS) {
            // A list of values is set whole too, as a comma-separated value: name[] or name.
            for (String known : key.endsWith("[]") ? List.of(key, key.substring(0, key.length() - 2)) : List.of(key)) {
                int distance = distance(shape, known, allowed);
                if (distance < bestDistance) {
                    best = known;
                    bestDistance = distance;
                }
            }
        }
        return best == null || bestDistance > allowed || bestDistance == 0 ? null : withIndexes(best, unknown);
    }

    // The suggestion's [] filled with the unknown key's indexes, in order, as far as they go.
    private static String withIndexes(String known, String unknown) {
        Matcher indexes = INDEX.matcher(unknown);
        List<String> found = new ArrayList<>();
        while (indexes.find()) {
            found.add(indexes.group());
        }
        StringBuilder filled = new StringBuilder();
        int at = 0;
        for (String index : found) {
            int slot = known.indexOf("[]", at);
            if (slot < 0) {
                break;
            }
            filled.append(known, at, slot).append(index);
            at = slot + 2;
        }
        return filled.append(known.substring(at).replace("[]", "[0]")).toString();
    }

    /** Levenshtein distance, given up (more than {@code most}) once every path exceeds {@code most}. */
    private static int distance(String a, String b, int most) {
        if (Math.abs(a.length() - b.length()) > most) {
            return most + 1;
        }
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            int rowLeast = current[0];
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
                rowLeast = Math.min(rowLeast, current[j]);
            }
            if (rowLeast > most) {
                return most + 1;
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }

    private static Set<String> collect(String prefix, Class<?> type, Set<String> keys) {
        for (PropertyDescriptor property : BeanUtils.getPropertyDescriptors(type)) {
            if (property.getReadMethod() == null || property.getWriteMethod() == null
                    && !isOurs(property.getPropertyType())) {
                continue; // not bound: getClass(), derived values
            }
            String key = prefix + "." + DataObjectPropertyName.toDashedForm(property.getName());
            Class<?> valueType = property.getPropertyType();
            if (Collection.class.isAssignableFrom(valueType)) {
                Type element = property.getReadMethod().getGenericReturnType() instanceof ParameterizedType list
                        ? list.getActualTypeArguments()[0] : Object.class;
                if (element instanceof Class<?> elementType && isOurs(elementType)) {
                    collect(key + "[]", elementType, keys);
                } else {
                    keys.add(key + "[]");
                }
            } else if (isOurs(valueType) && !valueType.isEnum()) {
                collect(key, valueType, keys);
            } else {
                keys.add(key);
            }
        }
        return keys;
    }

    private static boolean isOurs(Class<?> type) {
        return type.getName().startsWith(BrokerProperties.class.getName());
    }
}
