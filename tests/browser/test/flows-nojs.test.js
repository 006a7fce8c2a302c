'use strict';
// The site with JavaScript disabled: every flow must work on HTML and CSS alone.
require('../lib/flows').defineFlows({ javaScriptEnabled: false });
