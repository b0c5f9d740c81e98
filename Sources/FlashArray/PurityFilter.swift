/// Builds Purity REST 2.x `filter` expressions from values.
///
/// The syntax (FlashArray REST reference, Pure's PowerShell SDK "about_Pfa2Filtering"):
/// `field='value'`, string literals wrapped in single quotes, `*` a wildcard anywhere in a
/// value, terms joined with `and` / `or`, `not(...)`. The documentation names no escape
/// for a quote inside a literal (py-pure-client's `Filter` wraps values in quotes without
/// escaping; Cinder's Pure driver concatenates), so a guessed escape could still let a
/// value end the literal. A literal here is therefore refused, not escaped, when it holds
/// a character the syntax could interpret: `'`, `"`, `\`, `*`, or a control character.
/// Values that reach it have passed PathCore's validators, which exclude all of these for
/// IQNs and WWPNs.
public enum PurityFilter {
    static let refused: Set<Character> = ["'", "\"", "\\", "*"]

    /// `'value'`.
    public static func literal(_ value: String) throws -> String {
        guard !value.isEmpty else { throw FlashArrayError(.invalidArgument, "an empty value cannot be a filter literal") }
        if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) || value.contains(where: refused.contains) {
            throw FlashArrayError(.invalidArgument, "a filter value cannot hold a quote, a backslash, '*' or a control character")
        }
        return "'" + value + "'"
    }

    /// `field='value'` (field is a name written in the code, never input).
    public static func equals(_ field: String, _ value: String) throws -> String {
        precondition(!field.isEmpty && field.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }, "filter field \(field)")
        return field + "=" + (try literal(value))
    }
}
