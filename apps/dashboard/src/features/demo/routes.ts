import type { RouteRecordRaw } from 'vue-router';

export const demoRoutes: RouteRecordRaw[] = [
  { path: '/', name: 'demo-home', component: () => import('./pages/DemoHomePage.vue'), meta: { title: 'Live chat' } },
  { path: '/r/:roomId', name: 'demo-room', component: () => import('./pages/DemoRoomPage.vue'), props: true, meta: { title: 'Chat room' } },
  { path: '/marketplace', name: 'demo-marketplace', component: () => import('./pages/MarketplacePage.vue'), meta: { title: 'Marketplace' } },
];
