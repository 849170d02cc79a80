#include "server/string_formats.h"

#include <map>

namespace ax::server {
namespace {

// The expressions write the part of each format that the validators clients check replies with
// all accept (Zod, Pydantic, ajv): a subset of the standard, never more. Dates are real calendar
// dates except February 29 (no leap-year arithmetic in an expression), date-times are UTC ("Z",
// uppercase "T", seconds 00-59: Zod's datetime() takes no offset), emails use the characters and
// dotted labels every email validator takes and end in a letters-only top-level domain.
#define AX_DATE "[0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))"
#define AX_CLOCK "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?"
#define AX_BYTE "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#define AX_H16 "[0-9A-Fa-f]{1,4}"
#define AX_LABEL "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#define AX_ATOM "[A-Za-z0-9_+-]+"
#define AX_URI_CHAR "([A-Za-z0-9._~:/?#\\[\\]@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})"

const std::map<std::string, const char*>& formats() {
  static const std::map<std::string, const char*> m = {
      {"date-time", "^" AX_DATE "T" AX_CLOCK "Z$"},
      {"date", "^" AX_DATE "$"},
      // RFC 3339's full-time, as JSON Schema defines "time": with its offset, "Z".
      {"time", "^" AX_CLOCK "Z$"},
      {"email", "^" AX_ATOM "(\\." AX_ATOM ")*@(" AX_LABEL "\\.)+[A-Za-z]{2,63}$"},
      {"hostname", "^" AX_LABEL "(\\." AX_LABEL ")*$"},
      {"ipv4", "^(" AX_BYTE "\\.){3}" AX_BYTE "$"},
      {"ipv6", "^((" AX_H16 ":){7}" AX_H16 "|(" AX_H16 ":){1,7}:|(" AX_H16 ":){1,6}:" AX_H16 "|(" AX_H16 ":){1,5}(:" AX_H16
               "){1,2}|(" AX_H16 ":){1,4}(:" AX_H16 "){1,3}|(" AX_H16 ":){1,3}(:" AX_H16 "){1,4}|(" AX_H16 ":){1,2}(:" AX_H16
               "){1,5}|" AX_H16 ":(:" AX_H16 "){1,6}|:((:" AX_H16 "){1,7}|:))$"},
      {"uuid", "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"},
      {"uri", "^[A-Za-z][A-Za-z0-9+.-]*:" AX_URI_CHAR "*$"},
      {"uri-reference", "^" AX_URI_CHAR "*$"},
      // OpenAPI's base64-encoded bytes.
      {"byte", "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"},
  };
  return m;
}

}  // namespace

const char* string_format_pattern(const std::string& format) {
  auto it = formats().find(format);
  return it == formats().end() ? nullptr : it->second;
}

const char* supported_string_formats() {
  return "date-time, date, time, email, hostname, ipv4, ipv6, uuid, uri, uri-reference, byte";
}

}  // namespace ax::server
