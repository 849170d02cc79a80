#include "server/http_request_parser.h"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>

namespace ax::server {

namespace http = boost::beast::http;

struct RequestReader::Impl {
  http::request_parser<http::string_body> parser;
};

RequestReader::RequestReader(const RequestLimits& limits) : impl_(std::make_unique<Impl>()) {
  impl_->parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  impl_->parser.body_limit(limits.max_body_bytes);
  impl_->parser.eager(true);  // parse as much body as the bytes given hold
}

RequestReader::~RequestReader() = default;

bool RequestReader::head_done() const { return impl_->parser.is_header_done(); }

bool RequestReader::expects_continue() const {
  if (!impl_->parser.is_header_done()) return false;
  const auto& h = impl_->parser.get();
  auto it = h.find(http::field::expect);
  if (it == h.end()) return false;
  std::string v(it->value());
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v == "100-continue";
}

RequestReader::State RequestReader::feed(const char* data, size_t size) {
  if (state_ == State::Done || state_ == State::Error) {
    pending_.append(data, size);
    return state_;
  }
  // Beast's parser takes a head only whole: what it leaves is kept and offered again with more.
  pending_.append(data, size);
  auto& p = impl_->parser;
  size_t used = 0;
  while (used < pending_.size() && !p.is_done()) {
    boost::beast::error_code ec;
    const size_t n = p.put(boost::asio::buffer(pending_.data() + used, pending_.size() - used), ec);
    used += n;
    if (ec == http::error::need_more) break;
    if (ec) {
      state_ = State::Error;
      pending_.clear();
      if (ec == http::error::header_limit) {
        error_status_ = 431;
        error_message_ = "The request's head (request line and headers) is too large.";
      } else if (ec == http::error::body_limit) {
        error_status_ = 413;
      } else {
        error_status_ = 400;
        error_message_ = "The request is not valid HTTP/1.1 (" + ec.message() + ").";
      }
      return state_;
    }
    if (n == 0) break;
  }
  pending_.erase(0, used);
  if (p.is_done()) {
    state_ = State::Done;
  } else if (p.is_header_done() && !head_reported_) {
    head_reported_ = true;
    state_ = State::HeadDone;
  } else {
    state_ = State::NeedMore;
  }
  return state_;
}

HttpRequest RequestReader::take() {
  http::request<http::string_body> m = impl_->parser.release();
  HttpRequest r;
  r.method = std::string(m.method_string());
  r.target = std::string(m.target());
  r.path = decode_path(r.target);
  r.keep_alive = m.keep_alive();
  for (const auto& field : m) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  r.body = std::move(m.body());
  return r;
}

std::string decode_path(const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  std::string out;
  out.reserve(path.size());
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
  };
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size() && hex(path[i + 1]) >= 0 && hex(path[i + 2]) >= 0) {
      out += static_cast<char>(hex(path[i + 1]) * 16 + hex(path[i + 2]));
      i += 2;
    } else {
      out += path[i];
    }
  }
  return out;
}

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < k.size() && same; ++i)
      same = k[i] == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return v;
  }
  return {};
}

}  // namespace ax::server
