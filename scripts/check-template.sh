#!/usr/bin/env bash
# Offline checks of template.yaml, each of which must pass with zero findings:
#   1. cfn-lint on the SAM template;
#   2. sam validate --lint (SAM CLI's own run of cfn-lint);
#   3. scripts/check_template_matches_code.py: the template agrees with the Rust code, and
#      SAM's transform of it (what CloudFormation deploys) has the routes, the streaming
#      integration and the preflights;
#   4. cfn-lint on that transformed template, which checks the API Gateway, IAM and Lambda
#      resources SAM generates (cfn-lint alone checks only the SAM resources as written);
#   5. the CloudFront Function the template embeds (cloudfront/ws-rewrite.js, compared byte
#      for byte in step 3), run under Node against CloudFront's viewer-request events
#      (node --test, no npm packages).
# Installs its pinned tools first (scripts/lib/deploy-tools.sh). Contacts no AWS service.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deploy-tools.sh
ensure_deploy_tools deploy-requirements.txt

transformed="$(mktemp --suffix=.json)"
trap 'rm -f "$transformed"' EXIT

echo "--- cfn-lint $(cfn-lint --version | awk '{print $2}'): template.yaml"
cfn-lint template.yaml
echo "no findings"

echo "--- sam validate --lint ($(sam --version))"
sam validate --lint --template-file template.yaml

echo "--- template.yaml vs the code"
python scripts/check_template_matches_code.py --quiet --transformed-out "$transformed"

echo "--- cfn-lint: SAM's transform of template.yaml"
cfn-lint "$transformed"
echo "no findings"

echo "--- CloudFront Function under Node ($(node --version))"
node --test cloudfront/
