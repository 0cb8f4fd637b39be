/// Text for an XML attribute or element: markup escaped, the characters XML 1.0 forbids dropped,
/// line breaks kept as character references so attributes keep them. Used by S3 request bodies
/// and by the JUnit reports.
public enum XMLText {
  public static func escape(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&apos;"
      case "\n": out += "&#10;"
      case "\t", "\r": out.unicodeScalars.append(scalar)
      default:
        if scalar.value >= 0x20 && !(0xFFFE...0xFFFF).contains(scalar.value) { out.unicodeScalars.append(scalar) }
      }
    }
    return out
  }
}
