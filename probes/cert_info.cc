#include "probes/cert_info.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <ctime>
#include <fstream>
#include <memory>

#include "probes/cert_info_openssl.h"

namespace cachewarden {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};

std::string NameText(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || name == nullptr) return "";
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : "";
}

std::string IpText(const ASN1_OCTET_STRING* ip) {
  const unsigned char* b = ASN1_STRING_get0_data(ip);
  const int n = ASN1_STRING_length(ip);
  std::string out;
  if (n == 4) {
    // fmt, not string concatenation: GCC 12 reports a false -Wrestrict on that at -O3.
    out = fmt::format("{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
  } else {
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < n; ++i) {
      if (i > 0 && i % 2 == 0) out += ':';
      out += kHex[b[i] >> 4];
      out += kHex[b[i] & 15];
    }
  }
  return out;
}

std::vector<std::string> SansOf(X509* cert) {
  std::vector<std::string> out;
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
    if (g->type == GEN_DNS) {
      const ASN1_IA5STRING* s = g->d.dNSName;
      out.push_back(fmt::format(
          "DNS:{}", std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                     static_cast<std::size_t>(ASN1_STRING_length(s)))));
    } else if (g->type == GEN_IPADD) {
      out.push_back(fmt::format("IP:{}", IpText(g->d.iPAddress)));
    }
  }
  return out;
}

SystemTime NotAfter(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return SystemTime{};
  return ToSystemTime(timegm(&tm), 0);
}

}  // namespace

CertInfo CertInfoOf(X509* cert) {
  CertInfo c;
  c.subject = NameText(X509_get_subject_name(cert));
  c.issuer = NameText(X509_get_issuer_name(cert));
  c.sans = SansOf(cert);
  c.not_after = NotAfter(cert);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) == 1) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < len; ++i) {
      c.sha256 += kHex[md[i] >> 4];
      c.sha256 += kHex[md[i] & 15];
    }
  }
  return c;
}

namespace {

Status ReadPem(BIO* bio, const std::string& path, std::vector<CertInfo>* out) {
  while (true) {
    std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    out->push_back(CertInfoOf(cert.get()));
  }
  // The error queue holds the "no start line" of the end of the file: not ours to keep.
  ERR_clear_error();
  if (out->empty()) {
    return Status::Error(StatusCode::kParse, "no PEM certificate in the file", 0, path);
  }
  return Status::Ok();
}

}  // namespace

Status ReadPemCertificates(const std::string& path, std::vector<CertInfo>* out) {
  out->clear();
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) {
    const int err = errno;
    ERR_clear_error();
    return PosixError("open", path, err != 0 ? err : EIO);
  }
  return ReadPem(bio.get(), path, out);
}

Status ParsePemCertificates(std::string_view pem, const std::string& path,
                            std::vector<CertInfo>* out) {
  out->clear();
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return Status::Error(StatusCode::kIo, "out of memory", ENOMEM, path);
  return ReadPem(bio.get(), path, out);
}

const CertInfo& EarliestExpiry(const std::vector<CertInfo>& certs) {
  const CertInfo* first = &certs.front();
  for (const auto& c : certs) {
    if (c.not_after < first->not_after) first = &c;
  }
  return *first;
}

}  // namespace cachewarden
