#include "server/string_formats.h"

#include <map>

namespace ax::server {
namespace {

// Pieces of RFC 3339 (date-time, date, time) and RFC 4291 (IPv6), written as ECMA-262 source.
#define AX_DATE "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
#define AX_TIME "([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
#define AX_BYTE "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#define AX_H16 "[0-9A-Fa-f]{1,4}"
#define AX_LABEL "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#define AX_URI_CHAR "([A-Za-z0-9._~:/?#\\[\\]@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})"

const std::map<std::string, const char*>& formats() {
  static const std::map<std::string, const char*> m = {
      {"date-time", "^" AX_DATE "[Tt]" AX_TIME "$"},
      {"date", "^" AX_DATE "$"},
      {"time", "^" AX_TIME "$"},
      {"email", "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@" AX_LABEL "(\\." AX_LABEL ")+$"},
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
