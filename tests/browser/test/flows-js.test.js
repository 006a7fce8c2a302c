'use strict';
// The site with JavaScript enabled: the same flows, and no script errors.
require('../lib/flows').defineFlows({ javaScriptEnabled: true });
